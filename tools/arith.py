"""The safe arithmetic evaluator of the arith game: single digits 0-9 joined by + and -.

Model output is untrusted, so nothing here calls `eval`. The text is length-bounded and checked
against a character whitelist first (so the parser never sees a huge or hostile input), then
parsed with Python's `ast` in expression mode and walked: only `BinOp(+|-)` over integer
constants 0-9 is accepted. Anything else (unary minus, brackets, names, calls, multi-digit
numbers, `*`) raises `ExpressionError` with a reason the verifier can report.

    >>> evaluate("5+4-2")
    Evaluation(value=7, ops=2, steps=('5+4=9', '9-2=7'))

`scratchpad(text)` is the step-by-step form the solver is trained to write ("5+4=9,9-2=7"), each
intermediate value taken mod 10 (the last digit), which is what the game asks for.
"""

from __future__ import annotations

import ast
import re

from pydantic import BaseModel, ConfigDict, Field

from sparring.tools.errors import ExpressionError

__all__ = ["MAX_CHARS", "Evaluation", "evaluate", "scratchpad"]

MAX_CHARS = 64
"""Longest expression accepted; long enough for 20 operations, short enough to parse in us."""

_ALLOWED = re.compile(r"[0-9+\- ]*")


class Evaluation(BaseModel):
    """What a valid expression computes to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: int = Field(description="Exact integer value (may be negative or above 9).")
    ops: int = Field(ge=0, description="Number of + and - operations.")
    steps: tuple[str, ...] = Field(description="Scratchpad steps, each value taken mod 10.")

    @property
    def last_digit(self) -> int:
        """The value mod 10: the game's arithmetic (Python's % makes -4 into 6)."""
        return self.value % 10


def evaluate(text: str, max_chars: int = MAX_CHARS) -> Evaluation:
    """Evaluate `text`, or raise `ExpressionError` saying why it is refused."""
    if not text.strip():
        raise ExpressionError("empty expression: write digits joined by + or -", text)
    if len(text) > max_chars:
        raise ExpressionError(f"too long: {len(text)} characters, at most {max_chars}", text)
    if not _ALLOWED.fullmatch(text):
        bad = sorted({c for c in text if not _ALLOWED.fullmatch(c)})
        raise ExpressionError(f"disallowed characters {bad!r}: only digits, + and -", text)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ExpressionError(f"not an expression: {e.msg}", text) from None
    digits, signs = _flatten(tree.body, text)
    return Evaluation(value=_value(digits, signs), ops=len(signs), steps=_steps(digits, signs))


def scratchpad(text: str) -> str:
    """The solver's target completion for `text`, e.g. "5+4-2" -> "5+4=9,9-2=7"."""
    return ",".join(evaluate(text).steps)


def _flatten(node: ast.expr, text: str) -> tuple[list[int], list[str]]:
    """Digits and signs of a left-nested +/- chain; refuses every other node type."""
    if isinstance(node, ast.BinOp):
        if not isinstance(node.op, ast.Add | ast.Sub):
            raise ExpressionError("only + and - are allowed", text)
        digits, signs = _flatten(node.left, text)
        sign = "+" if isinstance(node.op, ast.Add) else "-"
        return [*digits, _digit(node.right, text)], [*signs, sign]
    return [_digit(node, text)], []


def _digit(node: ast.expr, text: str) -> int:
    if isinstance(node, ast.UnaryOp):
        raise ExpressionError("a sign before a number is not allowed: write 0-3, not -3", text)
    if isinstance(node, ast.BinOp):
        raise ExpressionError("brackets are not allowed", text)
    value = node.value if isinstance(node, ast.Constant) else None
    # bool is an int subclass; the whitelist already excludes True/False, this keeps it so.
    if type(value) is not int or not 0 <= value <= 9:
        raise ExpressionError(f"{ast.unparse(node)} is not a single digit 0-9", text)
    return value


def _value(digits: list[int], signs: list[str]) -> int:
    total = digits[0]
    for sign, d in zip(signs, digits[1:], strict=True):
        total = total + d if sign == "+" else total - d
    return total


def _steps(digits: list[int], signs: list[str]) -> tuple[str, ...]:
    steps, acc = [], digits[0] % 10
    for sign, d in zip(signs, digits[1:], strict=True):
        nxt = (acc + d if sign == "+" else acc - d) % 10
        steps.append(f"{acc}{sign}{d}={nxt}")
        acc = nxt
    return tuple(steps)
