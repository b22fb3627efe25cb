"""The verifier: checks a proposal against its task, so the proposer is never trusted.

For arith the check is exact, so the verifier is rule-based (no policy call): the safe evaluator
computes the expression, and the verdict says whether its last digit is the target and whether it
has the requested number of operations, with a reason a person can act on. An LLM-backed verifier
for games without an exact check has the judge's shape (`judge_with_policy`): a role over a
Policy whose parser is strict and fails closed.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sparring.roles.proposer import Proposal
from sparring.tools.arith import evaluate
from sparring.tools.errors import ExpressionError

__all__ = ["Verification", "verify_expression"]


class Verification(BaseModel):
    """The verifier's verdict on one proposal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    valid: bool = Field(description="Well-formed, hits the target, has the requested ops.")
    value: int | None = Field(
        default=None, description="The expression's value mod 10, if computed."
    )
    ops: int | None = Field(default=None, description="Operations counted, if parsed.")
    reason: str = Field(description="Why it passed or failed.")


async def verify_expression(proposal: Proposal, target: int, ops: int) -> Verification:
    """Check `proposal` against the task (target digit, number of operations)."""
    if not proposal.valid:
        return Verification(valid=False, reason=f"unparsable: {proposal.reason}")
    try:
        result = evaluate(proposal.expression)
    except ExpressionError as e:  # a Proposal built by hand, not by the parser
        return Verification(valid=False, reason=f"unparsable: {e.reason}")
    value = result.last_digit
    if result.ops != ops:
        return Verification(
            valid=False,
            value=value,
            ops=result.ops,
            reason=f"wrong number of operations: {result.ops}, asked for {ops}",
        )
    if value != target:
        return Verification(
            valid=False,
            value=value,
            ops=result.ops,
            reason=f"wrong value: last digit {value}, target {target}",
        )
    return Verification(valid=True, value=value, ops=result.ops, reason=f"= {value}, {ops} ops")
