"""Errors of the search tool: a corpus line that cannot be read, an index that cannot be built
as asked or loaded as found. Each says where (file, line) and what to do about it.

    ToolError (sparring.tools.errors)
    ├── CorpusError        a corpus line is not a {"id", "title", "text"} object (path + line)
    └── SearchIndexError   an index folder is missing, incomplete or built for another model,
                           or build settings that cannot work on this corpus
"""

from __future__ import annotations

from pathlib import Path

from sparring.tools.errors import ToolError

__all__ = ["CorpusError", "SearchIndexError"]


class CorpusError(ToolError):
    """A corpus file or one of its lines is unusable; `line` is 1-based (None: the whole file)."""

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"corpus {where}: {problem}")


class SearchIndexError(ToolError):
    """A search index cannot be built as asked, or loaded from `path` as it was found."""

    def __init__(self, path: Path | None, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"search index {path}: {problem}" if path else f"search index: {problem}")
