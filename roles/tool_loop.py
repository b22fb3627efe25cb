"""The one multi-turn tool loop every tool-using role runs: generate, call a tool, splice, go on.

Tag format. The model calls a tool by writing `<name>arguments</name>`, e.g.
`<search>capital of France</search>` or `<python>print(1)</python>`; `<answer>...</answer>`
ends the trajectory with its answer. `name` is an identifier (lowercase letters, digits, '_').
The loop passes the closing tags as stop strings, so a turn ends at a call; the named tool (a
sync or async callable `str -> str` from the mapping the caller passes) runs on the arguments,
and its output goes back as `<result>output</result>` (RESULT_OPEN / RESULT_CLOSE), encoded with
`policy.encode` and appended as token ids. The next turn is generated from prompt ids +
everything so far: nothing is ever re-tokenised, so every recorded logprob stays exact.

Outcomes (`ToolLoopOutcome`); none of them is an exception out of the loop:

- "answer": the model wrote `<answer>...</answer>`; `answer` holds its stripped text.
- "no_call": a turn ended (end of text) with neither a call nor an answer.
- "malformed": a turn held a broken call: an opening tag never closed, a closing tag with no
  opening tag before it, or empty (blank) arguments.
- "unknown_tool": a well-formed call to a name the caller gave no tool for.
- "max_turns": the turn limit was reached while the model was still calling tools.
- "budget": the token budget (completion tokens, tool output included) or the model's context
  ran out: a turn was cut by length, or a tool result or another turn would not fit.

A tool that raises does not end the loop: its error goes back to the model as the result text
(`error: <type>: <message>`), is recorded in `ToolCall.error`, and the model goes on.

Mask rule. The whole trajectory is ONE `Call`: its completion is every generated segment with
the tool-output ids between them; `loss_mask` is 1 for generated tokens and 0 for tool tokens,
whose logprobs are recorded as 0.0. Text the policy did not write is never trained, as in
Search-R1 (arXiv 2503.09516), which masks retrieved passages out of the loss, and SSP
(arXiv 2510.18821), which does the same for its search agent's tool output.

    tools = {"calc": lambda expr: str(evaluate(expr))}
    result = await run_tool_loop(policy, "solver", messages, tools, SamplingParams(
        max_new_tokens=32), max_turns=4, budget=256)
    result.outcome, result.answer, result.call.loss_mask
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from sparring.messages import ChatMessage, ToolCall
from sparring.policy.base import Generation, Policy, SamplingParams
from sparring.roles.call import Call, record, unrecorded
from sparring.tools.output import ToolOutput

__all__ = [
    "ANSWER_TAG",
    "RESULT_CLOSE",
    "RESULT_OPEN",
    "Tool",
    "ToolLoopOutcome",
    "ToolLoopResult",
    "ToolOutput",
    "demonstration_segments",
    "parse_turn",
    "run_tool_loop",
]

Tool = Callable[[str], str | ToolOutput] | Callable[[str], Awaitable[str | ToolOutput]]
"""A tool: its argument text in, its output text out (sync or async)."""

ToolLoopOutcome = Literal["answer", "no_call", "malformed", "unknown_tool", "max_turns", "budget"]
"""How a tool loop ended; see the module docstring."""

ANSWER_TAG = "answer"
RESULT_OPEN = "<result>"
RESULT_CLOSE = "</result>"

_OPEN = re.compile(r"<([a-z][a-z0-9_]*)>")
_CLOSE = re.compile(r"</([a-z][a-z0-9_]*)>")


class TurnParse(BaseModel):
    """What one generated segment asked for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["call", "answer", "none", "malformed"]
    name: str = ""
    arguments: str = ""
    reason: str = ""


class ToolLoopResult(BaseModel):
    """What a tool loop did: how it ended, the answer if any, and its one Call record."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: ToolLoopOutcome = Field(description="How the loop ended.")
    answer: str | None = Field(description="The text inside <answer>, if the model gave one.")
    turns: int = Field(ge=0, description="Generate calls made.")
    reason: str = Field(default="", description="Detail for malformed / unknown_tool / budget.")
    call: Call = Field(description="The whole trajectory as one recorded Call.")


def parse_turn(text: str) -> TurnParse:
    """The first tag of a segment: a call, an answer, nothing, or a malformed call (total)."""
    opening = _OPEN.search(text)
    closing = _CLOSE.search(text)
    if closing is not None and (opening is None or closing.start() < opening.start()):
        return TurnParse(kind="malformed", reason=f"stray closing tag </{closing.group(1)}>")
    if opening is None:
        return TurnParse(kind="none")
    name = opening.group(1)
    end = text.find(f"</{name}>", opening.end())
    if end < 0:
        return TurnParse(kind="malformed", name=name, reason=f"<{name}> is never closed")
    arguments = text[opening.end() : end]
    if name == ANSWER_TAG:
        return TurnParse(kind="answer", name=name, arguments=arguments.strip())
    if not arguments.strip():
        return TurnParse(kind="malformed", name=name, reason=f"<{name}> has empty arguments")
    return TurnParse(kind="call", name=name, arguments=arguments)


async def run_tool_loop(
    policy: Policy,
    role: str,
    prompt: Sequence[ChatMessage] | Sequence[int],
    tools: Mapping[str, Tool],
    params: SamplingParams,
    *,
    max_turns: int = 4,
    budget: int = 512,
    context: int | None = None,
) -> ToolLoopResult:
    """Run the tool loop for `role` on `prompt` and record the trajectory as one Call.

    params.max_new_tokens bounds each turn; `budget` bounds all completion tokens (tool output
    included); `context` (the model's positions, if known) bounds prompt + completion.
    """
    if max_turns < 1 or budget < 1:
        raise ValueError("max_turns and budget must be >= 1")
    gen_policy = unrecorded(policy)
    messages = [m for m in prompt if isinstance(m, ChatMessage)]
    prompt_ids = (
        gen_policy.render(messages) if messages else [int(i) for i in prompt if isinstance(i, int)]
    )
    stops = tuple(dict.fromkeys((*params.stop, *(f"</{n}>" for n in (*tools, ANSWER_TAG)))))
    started, t0 = time.time(), time.perf_counter()
    ids: list[int] = []
    logprobs: list[float] = []
    mask: list[int] = []
    calls: list[ToolCall] = []
    versions: list[int] = []
    finish: Literal["stop", "length"] = "stop"
    outcome: ToolLoopOutcome = "max_turns"
    answer: str | None = None
    reason = ""
    turns = 0
    while True:
        room = budget - len(ids)
        if context is not None:
            room = min(room, context - len(prompt_ids) - len(ids))
        if room < 1:
            outcome, reason = "budget", "no room left for another turn"
            break
        turn_params = params.model_copy(
            update={"max_new_tokens": min(params.max_new_tokens, room), "stop": stops}
        )
        gen = await gen_policy.generate([*prompt_ids, *ids], turn_params)
        turns += 1
        ids += gen.completion_ids
        logprobs += gen.logprobs
        mask += [1] * len(gen.completion_ids)
        versions.append(gen.policy_version)
        finish = gen.finish_reason
        parsed = parse_turn(gen.text)
        if parsed.kind == "answer":
            outcome, answer = "answer", parsed.arguments
            break
        if parsed.kind == "call" and parsed.name not in tools:
            outcome, reason = "unknown_tool", f"no tool named {parsed.name!r}"
            break
        if parsed.kind != "call":
            if gen.finish_reason == "length":
                outcome, reason = "budget", "a turn was cut by its token limit"
            else:
                outcome, reason = (
                    ("no_call", "") if parsed.kind == "none" else ("malformed", parsed.reason)
                )
            break
        if turns >= max_turns:
            outcome, reason = "max_turns", f"still calling tools after {turns} turns"
            break
        tool_call = await _call_tool(tools[parsed.name], parsed.name, parsed.arguments)
        calls.append(tool_call)
        result_ids = gen_policy.encode(f"{RESULT_OPEN}{tool_call.result}{RESULT_CLOSE}")
        room = budget - len(ids)
        if context is not None:
            room = min(room, context - len(prompt_ids) - len(ids))
        if len(result_ids) >= room:  # the result and at least one more token must fit
            outcome, reason = "budget", f"the {parsed.name} result does not fit the budget"
            break
        ids += result_ids
        logprobs += [0.0] * len(result_ids)
        mask += [0] * len(result_ids)
    generation = Generation(
        prompt_ids=prompt_ids,
        completion_ids=ids,
        logprobs=logprobs,
        text=gen_policy.decode(ids),
        finish_reason=finish,
        # The oldest version of any segment: staleness is judged conservatively, so a weights
        # reload mid-trajectory never makes a trajectory that is partly older look fresher.
        policy_version=min(versions, default=gen_policy.version),
    )
    body: dict[str, JsonValue] = {
        "outcome": outcome,
        "answer": answer,
        "turns": turns,
        "reason": reason,
    }
    call = record(
        policy,
        role,
        messages,
        generation,
        started_at=started,
        duration_s=time.perf_counter() - t0,
        parsed=body,
        loss_mask=mask,
        tool_calls=calls,
    )
    return ToolLoopResult(outcome=outcome, answer=answer, turns=turns, reason=reason, call=call)


async def _call_tool(tool: Tool, name: str, arguments: str) -> ToolCall:
    """Run one tool; an exception becomes the result text and the ToolCall's error."""
    t0 = time.perf_counter()
    error: str | None = None
    data: dict[str, JsonValue] = {}
    try:
        out = tool(arguments)
        got: object = await out if asyncio.iscoroutine(out) else out
        if isinstance(got, ToolOutput):
            data = got.data
            got = got.text
        if not isinstance(got, str):
            raise TypeError(f"tool {name!r} returned {type(got).__name__}, not str or ToolOutput")
        result = got
    except Exception as exc:  # a tool's failure is the model's to read, never the loop's end
        error = f"{type(exc).__name__}: {exc}"
        result = f"error: {error}"
    return ToolCall(
        name=name,
        arguments={"input": arguments},
        result=result,
        data=data,
        error=error,
        duration_s=time.perf_counter() - t0,
    )


def demonstration_segments(text: str) -> list[tuple[str, bool]]:
    """A written-out tool-loop completion as warm-up segments: every `<result>...</result>`
    block given (not learned, as its tokens get loss mask 0 in play), the rest learned.

    `policy.warmup` encodes each segment on its own, the way this loop appends a tool's output,
    so a demonstration trains on the ids self-play will see.
    """
    segments: list[tuple[str, bool]] = []
    rest = text
    while (start := rest.find(RESULT_OPEN)) >= 0:
        end = rest.find(RESULT_CLOSE, start)
        if end < 0:
            raise ValueError(f"{RESULT_OPEN} without {RESULT_CLOSE} in a demonstration: {text!r}")
        end += len(RESULT_CLOSE)
        if start:
            segments.append((rest[:start], True))
        segments.append((rest[start:end], False))
        rest = rest[end:]
    if rest:
        segments.append((rest, True))
    return segments
