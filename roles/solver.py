"""The solver: compute an expression step by step, one operation per step, each value mod 10.

Prompt "compute 5+4-2" -> completion "5+4=9,9-2=7"; the last number is the answer. The scratchpad
is what makes the game learnable by a tiny model (each step is a one-operation problem; see
LEARNING.md, study 2). The parser is strict and total: the completion must be comma-separated
steps "a+b=c" or "a-b=c" over single digits, or it is an invalid Solution with a reason. The
steps' arithmetic is not checked here: only the final answer is judged (the reward is 1/0).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from sparring.messages import ChatMessage, Role
from sparring.policy.base import Policy, SamplingParams
from sparring.roles.call import Call, ask

__all__ = ["SOLVER_PROMPT", "Solution", "parse_solution", "solve_expression", "solver_messages"]

SOLVER_PROMPT = "compute {expression}"
"""User message of the solver."""

_STEP = r"[0-9][+-][0-9]=[0-9]"  # ASCII: \d also matches other scripts' digits
_SCRATCHPAD = re.compile(rf"{_STEP}(?:,{_STEP})*")
_MAX_CHARS = 256  # longer than any honest scratchpad; keeps the regex cheap on junk


class Solution(BaseModel):
    """What a solver wrote, read strictly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    valid: bool = Field(description="The completion is a well-formed scratchpad.")
    answer: int | None = Field(
        default=None, description="The last number written (None if invalid)."
    )
    steps: int = Field(default=0, ge=0, description="Steps written.")
    reason: str = Field(default="", description="Why it is invalid ('' if valid).")
    text: str = Field(default="", description="The raw completion.")
    calls: tuple[Call, ...] = Field(default=(), description="Policy calls the role made.")


def solver_messages(expression: str) -> list[ChatMessage]:
    """The solver's conversation for one expression."""
    return [ChatMessage(role="user", content=SOLVER_PROMPT.format(expression=expression))]


def parse_solution(text: str) -> Solution:
    """Read a scratchpad; total: malformed text gives an invalid Solution with the reason."""
    stripped = text.strip()
    if not stripped:
        return Solution(valid=False, reason="empty answer", text=text)
    if len(stripped) > _MAX_CHARS:
        return Solution(valid=False, reason=f"longer than {_MAX_CHARS} characters", text=text)
    if not _SCRATCHPAD.fullmatch(stripped):
        return Solution(valid=False, reason="not a scratchpad like '5+4=9,9-2=7'", text=text)
    return Solution(valid=True, answer=int(stripped[-1]), steps=stripped.count("="), text=text)


async def solve_expression(policy: Policy, expression: str, params: SamplingParams) -> Solution:
    """Ask `policy` to compute `expression`."""
    solution, call = await ask(
        policy, Role.SOLVER, solver_messages(expression), params, parse_solution
    )
    return solution.model_copy(update={"calls": (call,)})
