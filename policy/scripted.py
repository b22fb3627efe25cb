"""ScriptedPolicy: a Policy whose answers come from a Python function, for plumbing tests.

A first-class test double (like httpx's MockTransport): it speaks the full Policy protocol with a
byte-level tokenizer, so roles, graphs and the bus can be exercised without a model. It is never
used where learning is the point; those tests use the tiny real model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from sparring.messages import ChatMessage
from sparring.policy.base import Generation, Prompt, SamplingParams, WeightsFormat

__all__ = ["ScriptedPolicy"]

Script = Callable[[list[ChatMessage]], str] | Callable[[list[ChatMessage]], Awaitable[str]]

_OFFSET = 4  # ids 0-3 are reserved: 0 = pad, 1 = end of text, 2/3 = turn markers


class ScriptedPolicy:
    """Answers each call with `script(messages)`; token ids are bytes + 4."""

    def __init__(self, script: Script, version: int = 0, logprob: float = -0.5) -> None:
        self._script = script
        self._version = version
        self._logprob = logprob
        self.calls: list[list[ChatMessage]] = []
        self.loaded: list[tuple[int, WeightsFormat]] = []

    @property
    def version(self) -> int:
        return self._version

    def set_version(self, version: int) -> None:
        self._version = version

    async def load_weights(self, data: bytes, version: int, format: WeightsFormat = "full") -> None:
        """A script has no weights: any format is accepted and only the version moves."""
        self.loaded.append((version, format))
        self._version = version

    def render(self, messages: Sequence[ChatMessage]) -> list[int]:
        ids: list[int] = []
        for m in messages:
            ids += [2, *self.encode(f"{m.role}: {m.content}"), 3]
        return [*ids, 2, *self.encode("assistant: ")]

    def encode(self, text: str) -> list[int]:
        return [b + _OFFSET for b in text.encode()]

    def decode(self, ids: Sequence[int]) -> str:
        return bytes(i - _OFFSET for i in ids if i >= _OFFSET).decode(errors="replace")

    async def generate(self, prompt: Prompt, params: SamplingParams) -> Generation:
        if prompt and isinstance(prompt[0], ChatMessage):
            messages = [m for m in prompt if isinstance(m, ChatMessage)]
            prompt_ids = self.render(messages)
        else:
            prompt_ids = [int(i) for i in prompt if isinstance(i, int)]
            messages = [ChatMessage(role="user", content=self.decode(prompt_ids))]
        self.calls.append(messages)
        answer = self._script(messages)
        text = await answer if asyncio.iscoroutine(answer) else answer
        assert isinstance(text, str)
        ids = self.encode(text)[: params.max_new_tokens]
        finish: Literal["stop", "length"] = "length" if len(ids) < len(text.encode()) else "stop"
        return Generation(
            prompt_ids=prompt_ids,
            completion_ids=ids,
            logprobs=[self._logprob] * len(ids),
            text=self.decode(ids),
            finish_reason=finish,
            policy_version=self._version,
        )
