"""Progress of a long index build: a rich bar on a terminal, a plain line every 5 s otherwise.

A rich bar piped into a log draws nothing until it ends, so without a terminal (a CI log, a
`nohup` run) a line `index: embedding 5120/10000 passages, 14 s, ~13 s left` is printed
instead, as the warm-up does (sparring.policy.warmup).
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

__all__ = ["Bar"]

_PLAIN_EVERY_S = 5.0


class Bar:
    """Counts `total` units of one phase; `enabled=False` prints nothing at all."""

    def __init__(self, phase: str, total: int, unit: str, enabled: bool) -> None:
        self.phase, self.total, self.unit = phase, total, unit
        self.done = 0
        self._rich: Progress | None = None
        self._plain = enabled and not Console().is_terminal
        self._start = self._last = time.monotonic()
        if enabled and not self._plain:
            self._rich = Progress(
                TextColumn(f"index: {phase}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(unit),
                TimeRemainingColumn(),
            )
            self._task = self._rich.add_task(phase, total=total)

    def __enter__(self) -> Bar:
        self._start = self._last = time.monotonic()
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.stop()
        elif self._plain:
            took = time.monotonic() - self._start
            print(
                f"index: {self.phase} {self.done}/{self.total} {self.unit}, {took:.0f} s",
                flush=True,
            )

    def advance(self, units: int) -> None:
        self.done += units
        if self._rich is not None:
            self._rich.update(self._task, completed=self.done)
            return
        now = time.monotonic()
        if self._plain and now - self._last >= _PLAIN_EVERY_S:
            self._last = now
            elapsed = now - self._start
            left = elapsed * (self.total - self.done) / max(self.done, 1)
            print(
                f"index: {self.phase} {self.done}/{self.total} {self.unit}, "
                f"{elapsed:.0f} s, ~{left:.0f} s left",
                flush=True,
            )
