"""Progress of long work: a rich bar on a terminal, a plain line every few seconds otherwise.

A rich bar piped into a file (a `make demo` into a log, a CI job, `nohup`) draws nothing until
it ends, so without a terminal a caller-worded line (done, elapsed, what is left) is printed
every `every_s` seconds instead. The warm-up and the search index build both report this way.

    with Bar(total=n, enabled=True, columns=[TextColumn("index"), BarColumn()],
             line=lambda done, elapsed, left, fields: f"{done}/{n}, ~{left:.0f} s left") as bar:
        bar.update(k)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.progress import Progress, ProgressColumn

__all__ = ["Bar", "Line"]

Line = Callable[[float, float, float, dict[str, Any]], str]
"""(done, elapsed s, estimated s left, the fields given to update) -> one plain progress line."""


class Bar:
    """`total` units of work; `enabled=False` shows nothing at all."""

    def __init__(
        self,
        *,
        total: float,
        enabled: bool,
        columns: Sequence[str | ProgressColumn],
        line: Line,
        every_s: float = 5.0,
        fields: dict[str, Any] | None = None,
    ) -> None:
        self.total, self.done = total, 0.0
        self._line, self._every_s = line, every_s
        self._fields = dict(fields or {})
        self._rich: Progress | None = None
        self._plain = enabled and not Console().is_terminal
        self._start = self._last = time.monotonic()
        if enabled and not self._plain:
            self._rich = Progress(*columns)
            self._task = self._rich.add_task("", total=total, **self._fields)

    @property
    def plain(self) -> bool:
        """Whether progress goes out as plain lines (no terminal)."""
        return self._plain

    @property
    def elapsed(self) -> float:
        """Seconds since the bar started."""
        return time.monotonic() - self._start

    def __enter__(self) -> Bar:
        self._start = self._last = time.monotonic()
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.stop()

    def update(self, done: float, **fields: Any) -> None:
        """`done` units of `total` are done; `fields` feed the columns and the line."""
        self.done = done
        self._fields.update(fields)
        if self._rich is not None:
            self._rich.update(self._task, completed=min(done, self.total), **fields)
            return
        now = time.monotonic()
        if self._plain and now - self._last >= self._every_s:
            self._last = now
            elapsed = now - self._start
            left = elapsed * max(self.total - done, 0.0) / max(done, 1e-9)
            print(self._line(done, elapsed, left, self._fields), flush=True)
