"""Automatic recording of every policy call an episode makes, with the role that made it.

A game's graph is compiled once per worker and plays many episodes at once, so the record cannot
live in the graph. It lives in a `Recorder` held in a context variable: `play_episode` opens one
per episode (`with recording() as rec:`), and asyncio copies the context into every task LangGraph
starts for that episode, so concurrent episodes never see each other's calls. The nodes hold
`RecordingPolicy` wrappers (from `Policies.for_role`), which add each call to whichever recorder
is current, tagged with the wrapper's role and the LangGraph node that ran it. Outside an episode
the wrapper is a plain pass-through.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from langgraph.config import get_config

from sparring.messages import ChatMessage, Role
from sparring.policy.base import Generation, Policy, Prompt, SamplingParams
from sparring.roles.call import Call

__all__ = ["Recorder", "RecordingPolicy", "current_recorder", "recording"]


class Recorder:
    """The calls of one episode, in the order they started."""

    def __init__(self) -> None:
        self._calls: dict[str, Call] = {}

    @property
    def calls(self) -> list[Call]:
        return sorted(self._calls.values(), key=lambda c: c.started_at)

    def add(self, call: Call) -> None:
        self._calls[call.id] = call

    def replace(self, call: Call) -> None:
        """Swap in a newer version of a kept call (same id), e.g. with its parse attached."""
        if call.id in self._calls:
            self._calls[call.id] = call


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

    def __init__(self, inner: Policy, role: Role, trainable: bool) -> None:
        self.inner = inner
        self.role = role
        self.trainable = trainable

    @property
    def version(self) -> int:
        return self.inner.version

    def render(self, messages: Sequence[ChatMessage]) -> list[int]:
        return self.inner.render(messages)

    def encode(self, text: str) -> list[int]:
        return self.inner.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.inner.decode(ids)

    async def generate(self, prompt: Prompt, params: SamplingParams) -> Generation:
        return (await self._call(prompt, params)).generation

    async def generate_call(self, messages: Sequence[ChatMessage], params: SamplingParams) -> Call:
        return await self._call(list(messages), params)

    def annotate(self, call: Call) -> None:
        recorder = _CURRENT.get()
        if recorder is not None:
            recorder.replace(call)

    async def _call(self, prompt: Prompt, params: SamplingParams) -> Call:
        started, t0 = time.time(), time.perf_counter()
        generation = await self.inner.generate(prompt, params)
        call = Call(
            role=self.role,
            node=_node_name(),
            messages=[m for m in prompt if isinstance(m, ChatMessage)],
            generation=generation,
            trainable=self.trainable,
            started_at=started,
            duration_s=time.perf_counter() - t0,
        )
        recorder = _CURRENT.get()
        if recorder is not None:
            recorder.add(call)
        return call
