"""Errors of the bus: every one a `sparring.errors.BusError`, with a message that says what to do.

BusError (sparring.errors)
├── ServerNotFoundError (sparring.errors)   the nats-server binary is missing
├── ServerStartError                         the embedded server would not start or stay up
├── ConnectError                             no NATS server answered at the URL
├── RunNameError                             a run, game or consumer name cannot be a NATS name
├── SetupError                               a stream, consumer or bucket could not be created
├── PublishError                             JetStream did not store a message
│   └── ConnectionLostError                  ...because the server went away and stayed away
└── ObjectNotFoundError                      no object of that name in the run's Object Store
"""

from __future__ import annotations

from sparring.errors import BusError, ServerNotFoundError

__all__ = [
    "BusError",
    "ConnectError",
    "ConnectionLostError",
    "ObjectNotFoundError",
    "PublishError",
    "RunNameError",
    "ServerNotFoundError",
    "ServerStartError",
    "SetupError",
]


class ServerStartError(BusError):
    """The embedded nats-server exited or never became healthy."""

    def __init__(self, reason: str, log_file: str = "") -> None:
        self.reason = reason
        self.log_file = log_file
        see = f"; its log is {log_file}" if log_file else ""
        super().__init__(f"the embedded nats-server did not start: {reason}{see}")


class ConnectError(BusError):
    """No NATS server could be reached (or it refused the credentials)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"cannot connect to NATS at {url}: {reason}. Check that the server runs and the URL, "
            "credentials and TLS files in BusConfig are right (or leave the URL out to start an "
            "embedded server)."
        )


class RunNameError(BusError):
    """A name that goes into subjects, streams or buckets has characters NATS does not allow."""

    def __init__(self, what: str, name: str, suggestion: str) -> None:
        self.what = what
        self.name = name
        self.suggestion = suggestion
        super().__init__(
            f"{what} {name!r} cannot be used in NATS names: use 1-64 letters, digits, '-' or '_' "
            f"(for example {suggestion!r})"
        )


class SetupError(BusError):
    """JetStream refused to create or bind a stream, consumer or bucket."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(
            f"could not set up {what}: {reason}. Is JetStream enabled on the server, and does an "
            "existing stream or consumer of that name have another configuration?"
        )


class PublishError(BusError):
    """JetStream did not acknowledge a message in time, or refused it."""

    def __init__(self, subject: str, reason: str) -> None:
        self.subject = subject
        self.reason = reason
        super().__init__(
            f"JetStream did not store the message on {subject}: {reason}. Publishing again is "
            "safe: the message id makes a retry a no-op if the first try was stored."
        )


class ConnectionLostError(PublishError):
    """A publish failed while the connection to NATS was down: the server died or is away.

    Not "publish again": nothing will store the message until the server is back, and a
    long-running process that waits forever on a dead server only hides it."""

    def __init__(self, subject: str, reason: str) -> None:
        self.subject = subject
        self.reason = reason
        BusError.__init__(
            self,
            f"lost the connection to the NATS server, so nothing was stored on {subject} "
            f"({reason}): is the nats-server still running? Start this process again once it "
            "is back; what JetStream had stored is kept.",
        )


class ObjectNotFoundError(BusError):
    """The run's Object Store holds no object of that name."""

    def __init__(self, name: str, bucket: str) -> None:
        self.name = name
        self.bucket = bucket
        super().__init__(
            f"no object {name!r} in the Object Store {bucket!r}: was it put with this run name?"
        )
