"""What each role of the code game is told, and how its answer is read (parsers are total).

Proposer: "propose deduction, 2 steps" and a few reference tasks; it answers with a program
and an input, the input on the last line after "input:" (the same form as the references):

    def f(x):
        x = (x + 3) % 10
        return x
    input: 4

Solver, deduction: the program and "f(4) = ?"; abduction: the program and "f(?) = 7". Either
may work it out first ("4+3=7"): the answer is what follows the last "=" (or the whole text
when there is none), read as a Python literal (`ast.literal_eval`), so "[1, 2]" and "[1,2]"
are the same answer and a worked trace of digits ends on its last number.
"""

from __future__ import annotations

import ast
import warnings

from pydantic import BaseModel, ConfigDict, Field

from sparring.graphs.code.config import TaskType
from sparring.messages import ChatMessage

__all__ = [
    "Answer",
    "ProposalText",
    "canonical",
    "parse_answer",
    "parse_proposal",
    "proposer_messages",
    "solver_messages",
    "task_text",
]

_INPUT = "input:"
_MAX_ANSWER_CHARS = 256  # longer than any honest worked answer; keeps literal_eval cheap


class ProposalText(BaseModel):
    """A proposer's completion split into its program and its input (not yet checked)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    program: str = Field(description="The program's source ('' when it could not be split).")
    input: str = Field(description="The input's text after 'input:' ('' when missing).")
    reason: str = Field(default="", description="Why it could not be split ('' if it could).")


class Answer(BaseModel):
    """A solver's answer, read as a Python literal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: str | None = Field(description="Canonical repr of the literal (None: unreadable).")
    reason: str = Field(default="", description="Why it is unreadable ('' if readable).")


def task_text(program: str, input_repr: str) -> str:
    """A task as the proposer writes it and the references show it."""
    return f"{program.rstrip()}\n{_INPUT} {input_repr}"


def proposer_messages(
    task_type: TaskType, difficulty: int, references: list[str]
) -> list[ChatMessage]:
    """The proposer's prompt: the task type, the statements to write, and reference tasks."""
    shown = "".join(f"reference:\n{r}\n" for r in references)
    content = f"{shown}propose {task_type}, {difficulty} steps"
    return [ChatMessage(role="user", content=content)]


def solver_messages(task_type: TaskType, program: str, given: str) -> list[ChatMessage]:
    """The solver's prompt: the program and what is asked ("f(4) = ?" or "f(?) = 7")."""
    asked = f"f({given}) = ?" if task_type == "deduction" else f"f(?) = {given}"
    return [ChatMessage(role="user", content=f"{program.rstrip()}\n{asked}")]


def parse_proposal(text: str) -> ProposalText:
    """Split a completion at its last 'input:' line; total (a reason when it cannot)."""
    head, sep, tail = text.strip().rpartition(_INPUT)
    if not sep:
        return ProposalText(program="", input="", reason="no 'input:' line after the program")
    if not head.strip():
        return ProposalText(program="", input="", reason="no program before 'input:'")
    return ProposalText(program=head.rstrip(), input=tail.strip())


def canonical(text: str, max_chars: int = _MAX_ANSWER_CHARS) -> str | None:
    """repr(ast.literal_eval(text)), or None when `text` is no short Python literal."""
    if len(text) > max_chars:
        return None
    try:
        with warnings.catch_warnings():  # a model's junk would print a SyntaxWarning per answer
            warnings.simplefilter("ignore", SyntaxWarning)
            return repr(ast.literal_eval(text.strip()))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def parse_answer(text: str) -> Answer:
    """A solver's answer: the literal after the last '=' (or the whole text)."""
    stripped = text.strip()
    if not stripped:
        return Answer(value=None, reason="empty answer")
    last = stripped.rpartition("=")[2] if "=" in stripped else stripped
    value = canonical(last)
    if value is None:
        return Answer(value=None, reason=f"{last.strip()[:40]!r} is not a Python literal")
    return Answer(value=value)
