"""The proposer: given a target digit and a number of operations, write an arithmetic problem.

Prompt and parser live here beside the role. The prompt is deliberately tiny (a 0.6M-parameter
model reads it): "target 7 ops 3" asks for an expression over single digits with + and -, three
operations, whose value mod 10 is 7, e.g. "5+4-2+0". The parser is strict and total: anything that
is not a well-formed expression gives `Proposal(valid=False, reason=...)`, never an exception.
Whether the expression hits the target is the verifier's business, not the parser's.
"""

from __future__ import annotations

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
"""User message of the proposer; the answer is the bare expression."""


class Proposal(BaseModel):
    """What the proposer wrote, read strictly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    valid: bool = Field(description="A well-formed expression (value and ops not checked yet).")
    expression: str = Field(
        default="", description="The expression without spaces ('' if invalid)."
    )
    reason: str = Field(default="", description="Why it is invalid, in words ('' if valid).")
    text: str = Field(default="", description="The raw completion.")
    calls: tuple[Call, ...] = Field(default=(), description="Policy calls the role made.")


def proposer_messages(target: int, ops: int) -> list[ChatMessage]:
    """The proposer's conversation for one task."""
    return [ChatMessage(role="user", content=PROPOSER_PROMPT.format(target=target, ops=ops))]


def parse_proposal(text: str, max_chars: int = MAX_CHARS) -> Proposal:
    """Read a completion as an expression; total: malformed text gives an invalid Proposal."""
    stripped = text.strip()
    try:
        evaluate(stripped, max_chars)
    except ExpressionError as e:
        return Proposal(valid=False, reason=e.reason, text=text)
    return Proposal(valid=True, expression=stripped.replace(" ", ""), text=text)


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
