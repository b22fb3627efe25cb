"""The proposer: given a target digit and a number of operations, write an arithmetic problem.

Prompt and parser live here beside the role. The prompt is deliberately tiny (a 0.6M-parameter
model reads it): "target 7 ops 3" asks for a problem of three operations over single digits with
+ and - whose value mod 10 is 7. The proposer shows its work, as a chain of one-operation steps
ending on the target: "5+4=9,9-2=7,7+0=7"; the problem handed to the solvers is the expression the
chain spells, "5+4-2+0". Why a chain and not the bare expression: hitting a target with a bare
expression means adding up the whole prefix in one's head, which a tiny model cannot do (only 5-10%
of its bare proposals were valid after warm-up); with the chain, every step is the solver's own
one-operation skill and only the last one runs backwards ("9-?=7").

The parser is strict and total: anything that is not a well-formed, linked chain (each step
starts from the previous step's result) gives `Proposal(valid=False, reason=...)`, never an
exception. Whether the problem really has that value is the verifier's business: it recomputes
the expression and never trusts the written results.
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
    "parse_proposal",
    "propose_expression",
    "proposer_messages",
]

PROPOSER_PROMPT = "target {target} ops {ops}"
"""User message of the proposer; the answer is a chain of steps ending on the target."""

_STEP = re.compile(r"([0-9])([+-])([0-9])=([0-9])")  # ASCII digits only


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


def parse_proposal(text: str, max_chars: int = MAX_CHARS) -> Proposal:
    """Read a chain "5+4=9,9-2=7" as the problem "5+4-2"; total: malformed text gives an invalid
    Proposal with the reason."""
    stripped = text.strip()
    if not stripped:
        return Proposal(valid=False, reason="empty answer", text=text)
    if len(stripped) > 4 * max_chars:
        return Proposal(valid=False, reason=f"longer than {4 * max_chars} characters", text=text)
    steps = stripped.split(",")
    expression = ""
    previous: str | None = None
    for i, step in enumerate(steps, start=1):
        found = _STEP.fullmatch(step.strip())
        if found is None:
            return Proposal(valid=False, reason=f"step {i} {step!r} is not like '9-2=7'", text=text)
        left, sign, right, result = found.groups()
        if previous is not None and left != previous:
            return Proposal(
                valid=False,
                reason=f"step {i} starts from {left}, but step {i - 1} ended on {previous}",
                text=text,
            )
        expression += (left if previous is None else "") + sign + right
        previous = result
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
