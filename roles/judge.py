"""The judge: decides whether a solver's answer is right.

Two forms. `judge_number` is rule-based, for games whose answers compare exactly (arith: the
answer digit equals the expression's value mod 10). `judge_with_policy` asks a policy (the shared
one, or a separate judge model bound to Role.JUDGE) with a short prompt and reads "yes" or "no"
strictly; anything else is a failed judgement with a reason, so a confused judge fails closed.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sparring.messages import ChatMessage, Role
from sparring.policy.base import Policy, SamplingParams
from sparring.roles.call import Call, ask
from sparring.roles.solver import Solution

__all__ = [
    "JUDGE_PROMPT",
    "Judgement",
    "judge_messages",
    "judge_number",
    "judge_with_policy",
    "parse_judgement",
]

JUDGE_PROMPT = "question: {question}\nreference: {reference}\nanswer: {answer}\ncorrect? yes or no"
"""User message of the LLM judge."""


class Judgement(BaseModel):
    """Whether an answer is right, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    correct: bool = Field(description="The answer is judged right.")
    reason: str = Field(description="Why, in words.")
    calls: tuple[Call, ...] = Field(default=(), description="Policy calls the role made.")


async def judge_number(solution: Solution, expected: int) -> Judgement:
    """Rule-based: the solver's final number equals `expected`."""
    if not solution.valid or solution.answer is None:
        return Judgement(correct=False, reason=f"no answer: {solution.reason}")
    if solution.answer != expected:
        return Judgement(correct=False, reason=f"answered {solution.answer}, expected {expected}")
    return Judgement(correct=True, reason=f"answered {expected}")


def judge_messages(question: str, reference: str, answer: str) -> list[ChatMessage]:
    """The LLM judge's conversation."""
    content = JUDGE_PROMPT.format(question=question, reference=reference, answer=answer)
    return [ChatMessage(role="user", content=content)]


def parse_judgement(text: str) -> Judgement:
    """Read "yes"/"no" (any case, an optional full stop); total, and fails closed."""
    word = text.strip().rstrip(".").lower()
    if word == "yes":
        return Judgement(correct=True, reason="the judge said yes")
    if word == "no":
        return Judgement(correct=False, reason="the judge said no")
    return Judgement(correct=False, reason=f"unreadable judgement {text[:40]!r}: counted as no")


async def judge_with_policy(
    policy: Policy, question: str, reference: str, answer: str, params: SamplingParams
) -> Judgement:
    """Ask `policy` whether `answer` matches `reference` for `question`."""
    judgement, call = await ask(
        policy, Role.JUDGE, judge_messages(question, reference, answer), params, parse_judgement
    )
    return judgement.model_copy(update={"calls": (call,)})
