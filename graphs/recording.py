"""Automatic recording of every policy call an episode makes, with the role that made it.

A game's graph is compiled once per worker and plays many episodes at once, so the record cannot
live in the graph. It lives in a `Recorder` held in a context variable: `play_episode` opens one
per episode (`with recording() as rec:`), and asyncio copies the context into every task LangGraph
starts for that episode, so concurrent episodes never see each other's calls. The nodes hold
`RecordingPolicy` wrappers (from `Policies.for_role`), which add each call to whichever recorder
is current, tagged with the wrapper's role and the LangGraph node that ran it: one `Call` per
role step, made once and owned by the recorder. Outside an episode the wrapper is a plain
pass-through.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from langgraph.config import get_config

from sparring.messages import ChatMessage, role_name
from sparring.policy.base import Generation, Policy, Prompt, SamplingParams, WeightsFormat
from sparring.roles.call import Call, record

__all__ = ["Recorder", "RecordingPolicy", "current_recorder", "recording"]


class Recorder:
    """The calls of one episode, in the order they started."""

    def __init__(self) -> None:
        self._calls: list[Call] = []

    @property
    def calls(self) -> list[Call]:
        return sorted(self._calls, key=lambda c: c.started_at)

    def add(self, call: Call) -> None:
        self._calls.append(call)


_CURRENT: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar(
    "sparring_recorder", default=None
)


def current_recorder() -> Recorder | None:
    """The recorder of the episode running in this context, if any."""
    return _CURRENT.get()


@contextmanager
def recording() -> Iterator[Recorder]:
    """Record every call made through a RecordingPolicy in this context (and its tasks)."""
    recorder = Recorder()
    token = _CURRENT.set(recorder)
    try:
        yield recorder
    finally:
        _CURRENT.reset(token)


def _node_name() -> str:
    """The LangGraph node running this call ('' outside a graph run)."""
    try:
        node = get_config().get("metadata", {}).get("langgraph_node", "")
    except RuntimeError:  # get_config raises outside a runnable context
        return ""
    return str(node)


class RecordingPolicy:
    """A Policy that records each call into the current episode, tagged with its role."""

    def __init__(self, inner: Policy, role: str, trainable: bool) -> None:
        self.inner = inner
        self.role = role_name(role)
        self.trainable = trainable

    @property
    def version(self) -> int:
        return self.inner.version

    @property
    def unrecorded(self) -> Policy:
        return self.inner

    def render(self, messages: Sequence[ChatMessage]) -> list[int]:
        return self.inner.render(messages)

    def encode(self, text: str) -> list[int]:
        return self.inner.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.inner.decode(ids)

    async def load_weights(self, data: bytes, version: int, format: WeightsFormat = "full") -> None:
        await self.inner.load_weights(data, version, format)

    async def generate(
        self, prompt: Prompt | str, params: SamplingParams | None = None
    ) -> Generation:
        """Generate and record the call (for a game that calls the policy directly).

        A plain string is one user message; params default to `SamplingParams()`.
        """
        if isinstance(prompt, str):
            prompt = [ChatMessage(role="user", content=prompt)]
        params = params or SamplingParams()
        started, t0 = time.time(), time.perf_counter()
        generation = await self.inner.generate(prompt, params)
        messages = [m for m in prompt if isinstance(m, ChatMessage)]
        duration = time.perf_counter() - t0
        record(self, self.role, messages, generation, started_at=started, duration_s=duration)
        return generation

    def keep(self, call: Call) -> Call:
        kept = call.model_copy(
            update={"role": self.role, "node": _node_name(), "trainable": self.trainable}
        )
        recorder = _CURRENT.get()
        if recorder is not None:
            recorder.add(kept)
        return kept
