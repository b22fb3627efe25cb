"""Keeping the processes of `sparring run` alive: what died is started again, within a cap.

    restarts = Restarts(config.supervisor)
    delay = restarts.next_delay(time.monotonic())  # None: restarted too often, stop the run
    await bus.publish(restart_record(run, "trainer", -9, restarts, delay, step=12))

A worker, the trainer or the embedded nats-server that dies while the run goes on is restarted
after a back-off that doubles with each of its restarts in the last minute; past
`max_restarts_per_minute` the run stops with the reason (a process that dies at once on every
start would otherwise spin forever). Each restart is one `Metric` from source "supervisor",
so metrics.jsonl and the dashboard say which process, how it ended, in words, and how often.
The trainer needs nothing special: started again with the same command it resumes from its
latest checkpoint, and the samples it had not committed are redelivered and trained once.

Exit statuses read as words (`exit_text`): "killed (SIGKILL; out of memory?)", not "code -9".
"""

from __future__ import annotations

import signal
from collections import deque
from dataclasses import dataclass, field

from sparring.config import SupervisorConfig
from sparring.messages import Metric

__all__ = ["SOURCE", "Restarts", "exit_text", "restart_record"]

SOURCE = "supervisor"
"""The Metric source of restart records."""

_WINDOW_S = 60.0

_SIGNAL_WORDS = {
    signal.SIGKILL: "killed (SIGKILL; out of memory?)",
    signal.SIGTERM: "terminated (SIGTERM)",
    signal.SIGINT: "interrupted (SIGINT)",
    signal.SIGSEGV: "crashed (SIGSEGV: a segmentation fault)",
    signal.SIGABRT: "aborted (SIGABRT)",
    signal.SIGBUS: "crashed (SIGBUS)",
}


def exit_text(code: int | None) -> str:
    """A child's exit status in words: "exited with code 1", "killed (SIGKILL; out of
    memory?)" for -9 (asyncio's way of saying a signal ended it) and for a shell's 137."""
    if code is None:
        return "still running"
    if code < 0 or code > 128:
        number = -code if code < 0 else code - 128
        try:
            sig = signal.Signals(number)
        except ValueError:
            return f"exited with code {code}" if code > 0 else f"ended by signal {number}"
        words = _SIGNAL_WORDS.get(sig, f"ended by {sig.name}")
        return words if code < 0 else f"exited with code {code} (128 + {sig.name}: {words})"
    return f"exited with code {code}"


@dataclass
class Restarts:
    """The restart history of one process and the rule for its next restart."""

    config: SupervisorConfig
    count: int = 0
    """Restarts since the launcher started."""
    recent: deque[float] = field(default_factory=deque)
    """Monotonic times of the restarts in the last minute."""

    def next_delay(self, now: float) -> float | None:
        """Seconds to wait before restarting (the restart is counted), or None when the
        process was already restarted `max_restarts_per_minute` times in the last minute."""
        while self.recent and now - self.recent[0] >= _WINDOW_S:
            self.recent.popleft()
        if len(self.recent) >= self.config.max_restarts_per_minute:
            return None
        delay = min(self.config.max_backoff_s, self.config.backoff_s * 2 ** len(self.recent))
        self.recent.append(now)
        self.count += 1
        return delay

    def cap_text(self) -> str:
        """Why there is no next restart, for the run's stop reason."""
        n = self.config.max_restarts_per_minute
        if n == 0:
            return "restarts are off (supervisor.max_restarts_per_minute = 0)"
        return (
            f"it was restarted {n} times in the last minute "
            "(the cap: raise supervisor.max_restarts_per_minute, or read its log)"
        )


def restart_record(
    run: str, name: str, code: int | None, restarts: Restarts, delay: float, step: int
) -> Metric:
    """The Metric of one restart: which process (`restarts/<name>`, its count), how it ended
    (`exit_code`, and in words in `note`) and the back-off before it starts again."""
    how = exit_text(code)
    cap = restarts.config.max_restarts_per_minute
    return Metric(
        run=run,
        source=SOURCE,
        step=step,
        values={
            f"restarts/{name}": float(restarts.count),
            "exit_code": float(code if code is not None else 0),
            "backoff_s": delay,
        },
        note=f"{name} {how}: restart {restarts.count} "
        f"({len(restarts.recent)} of at most {cap} a minute) in {delay:.1f} s",
    )
