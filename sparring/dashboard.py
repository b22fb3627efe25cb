"""The live view of `sparring run`: what the loop is doing, refreshed as metrics arrive.

It keeps the newest Metric of every source and renders them with rich: the policy version and
elapsed time on top, then the workers (rates summed, everything else averaged), the trainer and
the latest held-out evaluation. Without a terminal (CI, a pipe) it prints one line every
`every_s` seconds instead, so logs stay readable.
"""

from __future__ import annotations

import time

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from sparring.messages import Metric

__all__ = ["Dashboard"]

_TRAINER_KEYS = (
    "loss",
    "signal_frac",
    "kl",
    "entropy",
    "clip_frac",
    "staleness_mean",
    "dropped_stale",
    "samples_per_s",
    "tokens_per_s",
    "step_time_s",
)


class Dashboard:
    """Collects metrics and renders the run's state."""

    def __init__(self, run: str, started: float | None = None) -> None:
        self.run = run
        self.started = started or time.time()
        self.latest: dict[str, Metric] = {}
        self.version = 0
        self.first_eval: Metric | None = None

    def add(self, metric: Metric) -> None:
        self.latest[metric.source] = metric
        if metric.source == "trainer":
            self.version = max(self.version, metric.step)
        if metric.source == "eval" and self.first_eval is None:
            self.first_eval = metric

    def workers(self) -> dict[str, float]:
        """Worker figures: rates summed over workers, everything else averaged."""
        rows = [m.values for s, m in self.latest.items() if s.startswith("worker")]
        out: dict[str, float] = {}
        for key in sorted({k for r in rows for k in r}):
            vals = [r[key] for r in rows if key in r]
            out[key] = sum(vals) if key.endswith("_per_s") else sum(vals) / len(vals)
        return out

    def render(self) -> Group:
        minutes = (time.time() - self.started) / 60
        head = Text.assemble(
            ("sparring ", "bold magenta"),
            (f"{self.run}  ", "bold"),
            f"policy v{self.version}   {minutes:.1f} min",
        )
        parts: list[Table | Text] = [head, self._table("workers", self.workers())]
        trainer = self.latest.get("trainer")
        if trainer:
            values = trainer.values
            shown = {k: values[k] for k in _TRAINER_KEYS if k in values}
            shown |= {k: v for k, v in values.items() if k.startswith(("reward/", "advantage/"))}
            parts.append(self._table(f"trainer (step {trainer.step})", shown))
        evaluation = self.latest.get("eval")
        if evaluation:
            parts.append(self._eval_table(evaluation))
        return Group(*parts)

    def line(self) -> str:
        """One plain line for logs without a terminal."""
        w = self.workers()
        t = self.latest.get("trainer")
        e = self.latest.get("eval")
        bits = [f"v{self.version}", f"{(time.time() - self.started) / 60:.1f}min"]
        bits.append(f"eps/s={w.get('episodes_per_s', 0):.1f}")
        bits += [f"{k}={v:.3g}" for k, v in w.items() if k.startswith("reward/")]
        if t:
            bits += [f"{k}={t.values[k]:.3g}" for k in ("loss", "signal_frac") if k in t.values]
        if e:
            bits += [
                f"{k}={v:.2f}" for k, v in sorted(e.values.items()) if k.startswith("acc_greedy")
            ]
        return " ".join(bits)

    def _table(self, title: str, values: dict[str, float]) -> Table:
        table = Table(
            title=title, title_justify="left", show_header=False, box=None, pad_edge=False
        )
        table.add_column(style="cyan")
        table.add_column(justify="right")
        for key, value in values.items():
            table.add_row(key, f"{value:.4g}")
        return table

    def _eval_table(self, evaluation: Metric) -> Table:
        table = Table(
            title=f"held-out solver accuracy (policy v{evaluation.step})", title_justify="left"
        )
        table.add_column("level")
        table.add_column("greedy", justify="right")
        table.add_column("sampled", justify="right")
        table.add_column("greedy at start", justify="right")
        start = self.first_eval.values if self.first_eval else {}
        levels = sorted(
            k.split("/", 1)[1] for k in evaluation.values if k.startswith("acc_greedy/")
        )
        for level in levels:
            greedy = evaluation.values[f"acc_greedy/{level}"]
            sampled = evaluation.values.get(f"acc_sampled/{level}")
            before = start.get(f"acc_greedy/{level}")
            table.add_row(
                level,
                f"{greedy:.2f}",
                "" if sampled is None else f"{sampled:.2f}",
                "" if before is None else f"{before:.2f}",
            )
        return table


def make_console() -> Console:
    """The console the launcher prints to (stderr stays free for errors)."""
    return Console(highlight=False)
