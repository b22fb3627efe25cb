"""Errors of the sandbox. A program that misbehaves is never an error (it is an `Outcome`);
these are the sandbox refusing to run at all, or being used wrongly.

    ToolError (sparring.tools.errors)
    └── SandboxError                a sandbox cannot be used as asked
        └── SandboxUnavailableError this machine does not allow the confinement (names what is
                                    missing); the sandbox refuses rather than run unconfined
"""

from __future__ import annotations

from sparring.tools.errors import ToolError

__all__ = ["SandboxError", "SandboxUnavailableError"]

_NEEDS = (
    "It needs Linux, root (a container run as root works) and the cgroup v1 pids and memory "
    "controllers (cgroup v2 is not supported yet); it refuses rather than run a program "
    "unconfined"
)


class SandboxError(ToolError):
    """The sandbox cannot be used as asked (closed, or misused)."""


class SandboxUnavailableError(SandboxError):
    """Confinement is not possible here; `missing` says what the fork server could not do."""

    def __init__(self, missing: str) -> None:
        self.missing = missing
        super().__init__(f"the sandbox cannot confine programs here: {missing}. {_NEEDS}")
