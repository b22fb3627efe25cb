"""Errors of the fictional world: a corpus file that does not parse, a world that breaks its rules.

ToolError (sparring.tools.errors)
├── CorpusError   a JSONL corpus line is not an {"id", "title", "text"} record (path, line)
└── WorldError    a generated world violates an invariant (two values for one relation,
                  two entities with one name): a bug in the generator, never bad luck
"""

from __future__ import annotations

from sparring.tools.errors import ToolError

__all__ = ["CorpusError", "WorldError"]


class CorpusError(ToolError):
    """A corpus file could not be read; `line` is 1-based, 0 when the whole file is at fault."""

    def __init__(self, reason: str, path: str, line: int = 0) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {reason}")


class WorldError(ToolError):
    """The world's fact table or names break an invariant the questions rely on."""
