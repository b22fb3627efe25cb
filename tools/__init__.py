"""Tools roles can call, and what they stand on.

Here: safe arithmetic. Beside it, imported by their own paths so that none pays for another's
imports: `tools.answer` (SQuAD answer matching), `tools.world` (the generated fictional world),
`tools.search` (faiss + BM25 search; loads torch and the embedding model), `tools.output`
(`ToolOutput`, a tool's text and its data for the record), `tools.sandbox` (runs untrusted
Python confined: namespaces, cgroups, seccomp; needs Linux and root).
"""

from sparring.tools.arith import MAX_CHARS, Evaluation, evaluate, scratchpad
from sparring.tools.errors import ExpressionError, ToolError

__all__ = ["MAX_CHARS", "Evaluation", "ExpressionError", "ToolError", "evaluate", "scratchpad"]
