"""The proposer: given a target digit and a number of operations, write an arithmetic problem.

Prompt and parser live here beside the role. The prompt is deliberately tiny (a 0.6M-parameter
model reads it): "target 7 ops 2" asks for a problem of two operations over single digits with +
and - whose value mod 10 is 7. The proposer works backwards from the target, one step per
operation, each step written forwards: "7+2=9,9-4=5" reads "7 is what 9-2 gives, and 9 is what
5+4 gives", so the problem handed to the solvers is "5+4-2" (the steps in reverse, each sign
flipped). Why not the bare expression: hitting a target with it means adding up the whole prefix
in one's head, which a tiny model cannot do (2-10% of its bare or forward-chained proposals were
valid after warm-up). Backwards, each step picks an operation and a digit and computes one result
from digits already written: the solver's own skill, in the same written form.

The parser is strict and total: anything that is not a well-formed, linked chain (each step
starts from the previous step's result) gives `Proposal(valid=False, reason=...)`, never an
exception. Whether the problem really has the target's value is the verifier's business: it
recomputes the expression and never trusts the written numbers.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from sparring.messages import ChatMessage, Role
from sparring.policy.base import Policy, SamplingParams
from sparring.roles.call import Call, ask
from sparring.tools.arith import MAX_CHARS, evaluate
from sparring.tools.errors import ExpressionError

__all__ = [
    "PROPOSER_PROMPT",
    "Proposal",
    "backward_chain",
    "parse_proposal",
    "propose_expression",
    "proposer_messages",
]

PROPOSER_PROMPT = "target {target} ops {ops}"
"""User message of the proposer; the answer is a chain of steps back from the target."""

_STEP = re.compile(r"([0-9])([+-])([0-9])=([0-9])")  # ASCII digits only
_FLIP = {"+": "-", "-": "+"}


class Proposal(BaseModel):
    """What the proposer wrote, read strictly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    valid: bool = Field(description="A well-formed, linked chain (value not checked yet).")
    expression: str = Field(
        default="", description="The problem the chain spells, e.g. '5+4-2' ('' if invalid)."
    )
    reason: str = Field(default="", description="Why it is invalid, in words ('' if valid).")
    text: str = Field(default="", description="The raw completion.")
    calls: tuple[Call, ...] = Field(default=(), description="Policy calls the role made.")


def proposer_messages(target: int, ops: int) -> list[ChatMessage]:
    """The proposer's conversation for one task."""
    return [ChatMessage(role="user", content=PROPOSER_PROMPT.format(target=target, ops=ops))]


def backward_chain(expression: str) -> str:
    """The proposer's worked answer for `expression`: "5+4-2" -> "7+2=9,9-4=5" (mod 10)."""
    steps = evaluate(expression).steps  # ("5+4=9", "9-2=7")
    return ",".join(f"{st[4]}{_FLIP[st[1]]}{st[2]}={st[0]}" for st in reversed(steps))


def parse_proposal(text: str, max_chars: int = MAX_CHARS) -> Proposal:
    """Read a chain "7+2=9,9-4=5" as the problem "5+4-2"; total: malformed text gives an
    invalid Proposal with the reason."""
    stripped = text.strip()
    if not stripped:
        return Proposal(valid=False, reason="empty answer", text=text)
    if len(stripped) > 4 * max_chars:
        return Proposal(valid=False, reason=f"longer than {4 * max_chars} characters", text=text)
    tail = ""  # the problem's operations read so far, outermost last: "-2", then "+4-2"
    previous: str | None = None
    for i, step in enumerate(stripped.split(","), start=1):
        found = _STEP.fullmatch(step.strip())
        if found is None:
            return Proposal(valid=False, reason=f"step {i} {step!r} is not like '7+2=9'", text=text)
        left, sign, right, result = found.groups()
        if previous is not None and left != previous:
            return Proposal(
                valid=False,
                reason=f"step {i} starts from {left}, but step {i - 1} ended on {previous}",
                text=text,
            )
        tail = _FLIP[sign] + right + tail
        previous = result
    expression = f"{previous}{tail}"
    try:
        evaluate(expression, max_chars)
    except ExpressionError as e:
        return Proposal(valid=False, reason=e.reason, text=text)
    return Proposal(valid=True, expression=expression, text=text)


async def propose_expression(
    policy: Policy, target: int, ops: int, params: SamplingParams, max_chars: int = MAX_CHARS
) -> Proposal:
    """Ask `policy` for an expression with `ops` operations whose last digit is `target`."""
    proposal, call = await ask(
        policy,
        Role.PROPOSER,
        proposer_messages(target, ops),
        params,
        lambda text: parse_proposal(text, max_chars),
    )
    return proposal.model_copy(update={"calls": (call,)})
