"""Errors raised by the tools: each names what was refused and why, so a role can turn it into a
verdict with a reason (a tool error is an outcome of the episode, never a crash of the worker)."""

from __future__ import annotations

from sparring.errors import SparringError

__all__ = ["ExpressionError", "ToolError"]


class ToolError(SparringError):
    """A tool refused its input or failed; `reason` says what to change."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ExpressionError(ToolError):
    """An arithmetic expression the safe evaluator refuses (bad characters, too long, malformed)."""

    def __init__(self, reason: str, text: str) -> None:
        self.text = text
        super().__init__(reason)
