"""One recorded policy call (`Call`) and `ask`, the one way roles talk to a policy.

A role never calls `policy.generate` itself: it calls `ask(policy, role, messages, params,
parse)`, which generates, runs the role's parser over the text and returns the typed result with
the `Call` record. When the policy is a recording wrapper (what a game graph hands its nodes, see
`sparring.graphs.recording`), the wrapper keeps the record for the episode and `ask` attaches the
parse to it; with a bare policy (tests, evaluation) the record is simply returned.

`Call.id` becomes the id of the `Sample` the call trains, so reward rules pay calls by id.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from sparring.messages import ChatMessage, Role, new_id
from sparring.policy.base import Generation, Policy, SamplingParams

__all__ = ["Call", "CallRecorder", "ask", "parsed_json"]

P = TypeVar("P", bound=BaseModel)


class Call(BaseModel):
    """One policy call made by a role: what it was asked, what it answered, what that meant."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=new_id, description="Unique id; the Sample id if trained.")
    role: Role = Field(description="Role that made the call.")
    node: str = Field(default="", description="Graph node that made it ('' outside a graph).")
    messages: list[ChatMessage] = Field(description="Conversation given (empty for raw ids).")
    generation: Generation = Field(description="Exactly what the policy returned.")
    parsed: JsonValue = Field(default=None, description="What the role's parser made of the text.")
    trainable: bool = Field(default=True, description="Made by the shared trainable policy.")
    started_at: float = Field(description="Unix time the call started.")
    duration_s: float = Field(ge=0, description="Wall time of the call.")


@runtime_checkable
class CallRecorder(Protocol):
    """A policy wrapper that keeps every call of the running episode (graphs/recording.py)."""

    async def generate_call(self, messages: Sequence[ChatMessage], params: SamplingParams) -> Call:
        """Generate and record; the returned record is the one the episode keeps."""
        ...

    def annotate(self, call: Call) -> None:
        """Replace the kept record of `call.id` with `call` (to attach the parse)."""
        ...


def parsed_json(result: BaseModel) -> JsonValue:
    """A role result as JSON for the episode record (its calls and raw text are kept elsewhere)."""
    data: JsonValue = result.model_dump(mode="json", exclude={"calls", "text"})
    return data


async def ask(
    policy: Policy,
    role: Role,
    messages: Sequence[ChatMessage],
    params: SamplingParams,
    parse: Callable[[str], P],
) -> tuple[P, Call]:
    """Ask `policy` as `role`, parse the completion with `parse` (which must be total)."""
    if isinstance(policy, CallRecorder):
        call = await policy.generate_call(messages, params)
    else:
        started, t0 = time.time(), time.perf_counter()
        generation = await policy.generate(list(messages), params)
        call = Call(
            role=role,
            messages=list(messages),
            generation=generation,
            started_at=started,
            duration_s=time.perf_counter() - t0,
        )
    result = parse(call.generation.text)
    call = call.model_copy(update={"parsed": parsed_json(result)})
    if isinstance(policy, CallRecorder):
        policy.annotate(call)
    return result, call
