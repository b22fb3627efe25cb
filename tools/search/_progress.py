"""Progress of a long index build (`sparring.progress.Bar`): a rich bar on a terminal, and
without one a line `index: embedding 5120/10000 passages, 14 s, ~13 s left` every 5 s, as the
warm-up reports."""

from __future__ import annotations

from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

from sparring.progress import Bar as _Progress

__all__ = ["Bar"]

_PLAIN_EVERY_S = 5.0


class Bar:
    """Counts `total` units of one phase; `enabled=False` prints nothing at all."""

    def __init__(self, phase: str, total: int, unit: str, enabled: bool) -> None:
        self.phase, self.total, self.unit = phase, total, unit

        def line(done: float, elapsed: float, left: float, _: dict[str, Any]) -> str:
            return f"index: {phase} {done:.0f}/{total} {unit}, {elapsed:.0f} s, ~{left:.0f} s left"

        columns = [TextColumn(f"index: {phase}"), BarColumn(), MofNCompleteColumn()]
        self._bar = _Progress(
            total=total,
            enabled=enabled,
            columns=[*columns, TextColumn(unit), TimeRemainingColumn()],
            line=line,
            every_s=_PLAIN_EVERY_S,
        )

    @property
    def done(self) -> int:
        return int(self._bar.done)

    def __enter__(self) -> Bar:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)
        if self._bar.plain:
            took = self._bar.elapsed
            print(
                f"index: {self.phase} {self.done}/{self.total} {self.unit}, {took:.0f} s",
                flush=True,
            )

    def advance(self, units: int) -> None:
        self._bar.update(self._bar.done + units)
