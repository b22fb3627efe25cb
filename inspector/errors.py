"""Errors of the inspector and the tail, under `sparring.errors.SparringError`.

SparringError
└── InspectorError          the inspector could not start
    └── RunNotFoundError    no run directory to read (names where it looked)
"""

from __future__ import annotations

from pathlib import Path

from sparring.errors import SparringError

__all__ = ["InspectorError", "PortInUseError", "RunNotFoundError"]


class InspectorError(SparringError):
    """The inspector or the tail could not start; the message says what to change."""


class RunNotFoundError(InspectorError):
    """No run directory (or no episode store inside it) where the user pointed."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class PortInUseError(InspectorError, OSError):
    """The inspector's port is taken. Also an OSError, so a caller that falls back to another
    port on OSError (as for any socket) keeps working."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host = host
        self.port = port
        InspectorError.__init__(
            self, f"cannot listen on {host}:{port} ({reason}): pick another --port, or 0 for any"
        )
