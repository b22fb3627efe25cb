"""The exception hierarchy of sparring.

    SparringError                 everything sparring raises on purpose
    ├── ConfigError               a config file or override is invalid (names the field)
    ├── MessageError              bytes that are not a valid message (reason + original bytes)
    ├── BusError                  NATS: server missing or unreachable, stream set-up failed
    │   └── ServerNotFoundError   the nats-server binary is not installed
    ├── PolicyError               a model could not be loaded or asked
    ├── ExportError               a run's weights could not be exported (lists what can be)
    └── GameError                 a game file or graph is malformed

Each carries typed fields so a caller can act on it, and a message that says what to do.
Packages add their own subclasses beside their code (e.g. `sparring.bus.errors`).
"""

from __future__ import annotations

__all__ = [
    "BusError",
    "ConfigError",
    "ExportError",
    "GameError",
    "MessageError",
    "PolicyError",
    "ServerNotFoundError",
    "SparringError",
]


class SparringError(Exception):
    """Base of every error sparring raises on purpose."""


class ConfigError(SparringError):
    """A configuration value is invalid."""

    def __init__(self, field: str, problem: str, source: str = "") -> None:
        self.field = field
        self.problem = problem
        self.source = source
        where = f" in {source}" if source else ""
        super().__init__(f"config field '{field}'{where}: {problem}")


class MessageError(SparringError):
    """Bytes that do not decode to a valid message of the contract."""

    def __init__(self, reason: str, data: bytes) -> None:
        self.reason = reason
        self.data = data
        super().__init__(reason)


class BusError(SparringError):
    """NATS could not be started, reached or set up."""


class ServerNotFoundError(BusError):
    """The nats-server binary is missing."""


class PolicyError(SparringError):
    """A model could not be loaded or did not answer."""


class ExportError(SparringError):
    """A run's weights could not be exported: no such version, not a run directory, ..."""


class GameError(SparringError):
    """A game could not be loaded or its graph is malformed."""
