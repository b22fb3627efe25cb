"""One recorded policy call (`Call`), and `ask`, the one way roles talk to a policy.

A role calls `ask(policy, role, messages, params, parse)`: it generates, runs the role's parser
over the text and returns the typed result with the `Call` record. When the policy is a recording
wrapper (what a game graph hands its nodes, see `sparring.graphs.recording`), the record is made
once, by the wrapper, and kept for the episode: the wrapper knows the role, the graph node and
whether the call is trainable. With a bare policy (tests, evaluation) `ask` makes the record
itself and simply returns it. A multi-step role (the tool loop) generates on `unrecorded(policy)`
and records its whole trajectory as one Call with `record` at the end.

`Call.id` becomes the id of the `Sample` the call trains, so reward rules pay calls by id.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from sparring.messages import ChatMessage, RoleName, ToolCall, new_id
from sparring.policy.base import Generation, Policy, SamplingParams

__all__ = ["Call", "CallRecorder", "ask", "parsed_json", "record", "unrecorded"]

P = TypeVar("P", bound=BaseModel)


class Call(BaseModel):
    """One policy call made by a role: what it was asked, what it answered, what that meant.

    A tool-using role's whole trajectory is one Call: `generation.completion_ids` holds the
    generated tokens and the tool output spliced between them, `loss_mask` says which are which.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=new_id, description="Unique id; the Sample id if trained.")
    role: RoleName = Field(description="Role that made the call.")
    node: str = Field(default="", description="Graph node that made it ('' outside a graph).")
    messages: list[ChatMessage] = Field(description="Conversation given (empty for raw ids).")
    generation: Generation = Field(description="Exactly what the policy returned.")
    parsed: JsonValue = Field(default=None, description="What the role's parser made of the text.")
    trainable: bool = Field(default=True, description="Made by the shared trainable policy.")
    loss_mask: list[int] | None = Field(
        default=None,
        description="Per completion token: 1 generated (trained), 0 tool output (not trained); "
        "None: every token was generated.",
    )
    tool_calls: list[ToolCall] = Field(default=[], description="Tools called, in order.")
    started_at: float = Field(description="Unix time the call started.")
    duration_s: float = Field(ge=0, description="Wall time of the call.")

    @property
    def text(self) -> str:
        """The completion as text (tool output included)."""
        return self.generation.text

    def mask(self) -> list[int]:
        """The loss mask, one entry per completion token."""
        if self.loss_mask is None:
            return [1] * len(self.generation.completion_ids)
        return self.loss_mask


@runtime_checkable
class CallRecorder(Protocol):
    """A policy wrapper that keeps every call of the running episode (graphs/recording.py)."""

    @property
    def unrecorded(self) -> Policy:
        """The policy underneath: generating on it records nothing."""
        ...

    def keep(self, call: Call) -> Call:
        """Keep `call` for the episode as the wrapper's (its role, graph node, trainability);
        returns the kept record, the only one there is."""
        ...


def unrecorded(policy: Policy) -> Policy:
    """The policy to generate on when the caller records the call itself."""
    return policy.unrecorded if isinstance(policy, CallRecorder) else policy


def record(
    policy: Policy,
    role: str,
    messages: Sequence[ChatMessage],
    generation: Generation,
    *,
    started_at: float,
    duration_s: float,
    parsed: JsonValue = None,
    loss_mask: list[int] | None = None,
    tool_calls: Sequence[ToolCall] = (),
) -> Call:
    """The one Call record of a role step: kept by `policy` if it records (its role wins), or
    made here with `role` for a bare policy."""
    call = Call(
        role=role,
        messages=list(messages),
        generation=generation,
        started_at=started_at,
        duration_s=duration_s,
        parsed=parsed,
        loss_mask=loss_mask,
        tool_calls=list(tool_calls),
    )
    return policy.keep(call) if isinstance(policy, CallRecorder) else call


def parsed_json(result: BaseModel) -> JsonValue:
    """A role result as JSON for the episode record (its calls and raw text are kept elsewhere)."""
    data: JsonValue = result.model_dump(mode="json", exclude={"calls", "text"})
    return data


async def ask(
    policy: Policy,
    role: str,
    messages: Sequence[ChatMessage],
    params: SamplingParams,
    parse: Callable[[str], P],
) -> tuple[P, Call]:
    """Ask `policy` as `role`, parse the completion with `parse` (which must be total)."""
    started, t0 = time.time(), time.perf_counter()
    generation = await unrecorded(policy).generate(list(messages), params)
    result = parse(generation.text)
    call = record(
        policy,
        role,
        messages,
        generation,
        started_at=started,
        duration_s=time.perf_counter() - t0,
        parsed=parsed_json(result),
    )
    return result, call
