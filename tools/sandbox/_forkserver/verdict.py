"""From what the server saw of a finished run to its outcome: status, the limit that ended it,
the program's output and value. A pure function over facts, so every path is testable without
forking anything.

The order matters: a limit the server or the kernel enforced explains a kill before the signal
does (a memory group's OOM kill and RLIMIT_CPU's are both SIGKILL), and a limit explains an
error before the error does (a fork bomb dies of the exception its refused fork raised).
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from typing import Any

from .cgroups import GroupStats

__all__ = ["Facts", "lost", "verdict"]


@dataclass(frozen=True)
class Facts:
    """Everything the server knows once a run's process is reaped and its pipes are closed."""

    limits: dict[str, float]
    wait_status: int
    cpu_s: float
    wall_s: float
    stdout: bytes
    stderr: bytes
    report: bytes
    truncated: bool  # stdout or stderr went past the output cap (the server killed the run)
    killed_for: str | None  # "wall", "output" or "closed": why the server killed the run
    stats: GroupStats
    asked: bool  # a value was asked for (`call`): without one in the report, no "ok"


def verdict(facts: Facts) -> dict[str, Any]:
    """The outcome, as the plain dict the parent validates into an `Outcome`."""
    cap = int(facts.limits["output_bytes"])
    report, report_error = _parse_report(facts.report, cap)
    sig = os.WTERMSIG(facts.wait_status) if os.WIFSIGNALED(facts.wait_status) else None
    exit_code = os.WEXITSTATUS(facts.wait_status) if os.WIFEXITED(facts.wait_status) else None
    status, limit, error = _classify(facts, report, report_error, sig, exit_code)
    return {
        "status": status,
        "limit": limit,
        "stdout": facts.stdout[:cap].decode("utf-8", "replace"),
        "stderr": facts.stderr[:cap].decode("utf-8", "replace"),
        "truncated": facts.truncated,
        "value": report.get("value") if status == "ok" else None,
        "error": error,
        "exit_code": exit_code,
        "signal": signal.Signals(sig).name if sig is not None else None,
        "cpu_s": round(facts.cpu_s, 4),
        "wall_s": round(facts.wall_s, 4),
        "memory_peak_mb": round(facts.stats.memory_peak / (1 << 20), 2),
    }


def lost(why: str) -> dict[str, Any]:
    """The outcome of a run the sandbox itself could not start or finish."""
    fields = {"stdout": "", "stderr": "", "truncated": False, "value": None, "exit_code": None}
    fields |= {"signal": None, "cpu_s": 0.0, "wall_s": 0.0, "memory_peak_mb": 0.0}
    return {"status": "lost", "limit": None, "error": why, **fields}


def _classify(
    facts: Facts,
    report: dict[str, Any],
    report_error: str | None,
    sig: int | None,
    exit_code: int | None,
) -> tuple[str, str | None, str | None]:
    """(status, limit, error) for one run; see the module docstring for the order."""
    limits = facts.limits
    if "setup_error" in report:
        return "lost", None, f"the sandbox could not confine this run: {report['setup_error']}"
    if facts.killed_for == "closed":
        return "lost", None, "the sandbox was closed while this ran"
    if facts.killed_for == "wall":
        return "timeout", "wall", f"ran past the wall-time limit of {limits['wall_s']} s"
    if facts.killed_for == "output" or report_error == "too big":
        cap = int(limits["output_bytes"])
        return "limit", "output", f"wrote more than the output cap of {cap} bytes"
    if sig == signal.SIGKILL and facts.stats.oom_kills:
        return "limit", "memory", f"went past the memory limit of {int(limits['memory_mb'])} MiB"
    if sig == signal.SIGKILL:
        # Nothing inside its namespace can SIGKILL the child (it is pid 1 there), and the
        # server and the OOM killer are ruled out above: what is left is RLIMIT_CPU's hard
        # limit (or root outside, by hand). rusage cannot tell: on a VM it leaves out stolen
        # time, which the limit counts (4.75 s reported at a 5 s limit, measured here).
        return "timeout", "cpu", f"used up the CPU-time limit of {int(limits['cpu_s'])} s"
    if sig is not None:
        return "crash", None, f"killed by {signal.Signals(sig).name}"
    if "limit" in report:
        return "limit", report["limit"], report.get("error")
    valued = "value" in report or not facts.asked
    if exit_code == 0 and "error" not in report and report_error is None and valued:
        return "ok", None, None
    error = report.get("error") or report_error
    if error is None:
        error = f"exited with status {exit_code}" if exit_code else "exited before the value"
    if facts.stats.fork_refusals:
        refused = f"a fork was refused at the limit of {int(limits['processes'])} processes"
        return "limit", "processes", f"{error} ({refused})"
    return "error", None, error


def _parse_report(data: bytes, cap: int) -> tuple[dict[str, Any], str | None]:
    """The child's report, or ({}, why there is none)."""
    if len(data) > cap + 1024:
        return {}, "too big"
    if not data:
        return {}, None  # it left through os._exit or closed fd 3: judged by its exit status
    try:
        report = json.loads(data)
    except ValueError:
        return {}, "the report on fd 3 is not JSON (the program wrote to it)"
    if not isinstance(report, dict):
        return {}, "the report on fd 3 is not an object (the program wrote to it)"
    return report, None
