"""What running one program in the sandbox came to: a typed outcome, never an exception."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LimitName", "Outcome", "Status"]

Status = Literal["ok", "error", "crash", "timeout", "limit", "lost"]
LimitName = Literal["wall", "cpu", "memory", "processes", "output", "disk"]


class Outcome(BaseModel):
    """One program's run. `status` says how it ended:

    - ok: it ran to the end, exit status 0, and the value asked for (if any) is in `value`;
    - error: it raised (see `error`, `stderr`) or exited with a non-zero status;
    - crash: a signal killed it (`signal`: SIGSEGV, SIGABRT, ...);
    - timeout: the wall-time or the CPU-time limit ended it (`limit`);
    - limit: another limit ended it (`limit`: memory, processes, output or disk);
    - lost: the sandbox itself could not run or finish it (the fork server died, a fork
      failed): not the program's doing, so a game should not score it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Status = Field(description="How the run ended (see the class docstring).")
    limit: LimitName | None = Field(description="The limit that ended it, if one did.")
    stdout: str = Field(description="What it printed, cut at the output cap.")
    stderr: str = Field(description="Its stderr (tracebacks), cut at the output cap.")
    truncated: bool = Field(description="stdout or stderr went past the cap and was cut.")
    value: str | None = Field(
        description="repr() of the `call` expression evaluated after the program; only when ok."
    )
    error: str | None = Field(description="What went wrong, in one line; None when ok.")
    exit_code: int | None = Field(description="Exit status; None when a signal ended it.")
    signal: str | None = Field(description="Name of the signal that ended it (SIGKILL, ...).")
    cpu_s: float = Field(description="CPU seconds it used (its reaped processes included).")
    wall_s: float = Field(description="Seconds from fork to exit.")
    memory_peak_mb: float = Field(description="Peak memory it added to the forked interpreter.")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def result(self) -> tuple[str, str | None, str, str | None, str | None]:
        """What the program did, without the measurements that differ between identical runs
        (times, memory): two runs of a deterministic program have equal results."""
        return (self.status, self.limit, self.stdout, self.value, self.error)
