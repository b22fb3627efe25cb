"""Tools roles can call: safe arithmetic now; answer matching, search and the sandbox later."""

from sparring.tools.arith import MAX_CHARS, Evaluation, evaluate, scratchpad
from sparring.tools.errors import ExpressionError, ToolError

__all__ = ["MAX_CHARS", "Evaluation", "ExpressionError", "ToolError", "evaluate", "scratchpad"]
