"""The live view of `sparring run`: what the loop is doing, refreshed as metrics arrive.

It keeps the newest Metric of every source and renders them with rich: the policy version and
elapsed time on top, then the workers (rates summed, everything else averaged), the trainer and
the latest held-out evaluation. Without a terminal (CI, a pipe) it prints one line every
`every_s` seconds instead, so logs stay readable.

The evaluation is whatever the game's `evaluate` returns: a flat dict of floats whose keys may
name groups with '/', `group/label` (arith: `acc_greedy/d1`, `acc_sampled/d1`; a two-seat game:
`win_rate/random/seat0`). The table has one row per label and one column per group (a key
without '/' is its own group, on row "all"), rows sorted naturally (d2 before d10), and the
first group again as it was at the first evaluation. Per role, the trainer's cumulative sample
counts (`trained/<role>`, `skipped_*/<role>`, `dropped_*/<role>`) get a table of their own, and a
worker that published `failed: 1.0` is shown in red, pointing at its log. Each process the
launcher restarted gets a yellow line: how often, and how it last ended (source "supervisor").
"""

from __future__ import annotations

import re
import time

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from sparring.messages import Metric

__all__ = ["Dashboard", "eval_groups", "natural"]

_COUNTS = (
    "trained",
    "skipped_all_equal",
    "skipped_singleton",
    "skipped_no_signal",
    "dropped_stale",
    "dropped_incomplete",
)
# Refusals of hostile or broken input: a column only once one happened (a healthy run has
# none, and six always-zero columns would crowd the table).
_RARE = ("dropped_invalid", "dropped_too_long", "dropped_nonfinite", "skipped_nonfinite")
_ALL = "all"  # the row of evaluation keys without a '/'


def natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key reading runs of digits as numbers: d2 before d10, seat2 before seat10."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


def eval_groups(values: dict[str, float]) -> dict[str, dict[str, float]]:
    """Evaluation figures by group then label (`group/label`; a flat key is group/"all"), both
    sorted naturally."""
    groups: dict[str, dict[str, float]] = {}
    for key, value in values.items():
        group, _, label = key.partition("/")
        groups.setdefault(group, {})[label or _ALL] = value
    return {
        g: dict(sorted(rows.items(), key=lambda kv: natural(kv[0])))
        for g, rows in sorted(groups.items(), key=lambda kv: natural(kv[0]))
    }


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
        self.restarts: dict[str, tuple[int, str]] = {}  # process -> (restarts, the last's words)

    def add(self, metric: Metric) -> None:
        self.latest[metric.source] = metric
        if metric.source == "trainer":
            self.version = max(self.version, metric.step)
        if metric.source == "eval" and self.first_eval is None:
            self.first_eval = metric
        if metric.source == "supervisor":
            for key, count in metric.values.items():
                if key.startswith("restarts/"):
                    self.restarts[key.removeprefix("restarts/")] = (int(count), metric.note)

    def workers(self) -> dict[str, float]:
        """Worker figures: rates summed over workers, everything else averaged."""
        rows = [
            m.values
            for s, m in self.latest.items()
            if s.startswith("worker") and not m.values.get("failed")
        ]
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
        parts: list[Table | Text] = [head, *self._failures()]
        parts.append(self._table("workers", self.workers()))
        trainer = self.latest.get("trainer")
        if trainer:
            values = trainer.values
            shown = {k: values[k] for k in _TRAINER_KEYS if k in values}
            shown |= {k: v for k, v in values.items() if k.startswith(("reward/", "advantage/"))}
            parts.append(self._table(f"trainer (step {trainer.step})", shown))
            counts = self._counts_table(values)
            if counts is not None:
                parts.append(counts)
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
            # The flat figures and the first group (arith: greedy), so the line stays short.
            groups = eval_groups(e.values)
            first = next((g for g, rows in groups.items() if _ALL not in rows), "")
            shown = {g: r for g, r in groups.items() if g == first or _ALL in r}
            bits += [f"{_key(g, k)}={v:.2f}" for g, r in shown.items() for k, v in r.items()]
        bits += [f"{m.source}=FAILED" for m in self._failed()]
        bits += [f"{name}_restarts={n}" for name, (n, _) in sorted(self.restarts.items())]
        return " ".join(bits)

    def _failed(self) -> list[Metric]:
        return [
            m
            for s, m in sorted(self.latest.items())
            if s.startswith("worker") and m.values.get("failed")
        ]

    def _failures(self) -> list[Text]:
        failed = [
            Text(f"{m.source} failed: see logs/{m.source}.log", style="bold red")
            for m in self._failed()
        ]
        restarted = [
            Text(f"restarted {name} {n}x, last: {note}", style="yellow")
            for name, (n, note) in sorted(self.restarts.items())
        ]
        return failed + restarted

    def _counts_table(self, values: dict[str, float]) -> Table | None:
        """Samples per role: trained, and skipped or dropped with the reason (cumulative)."""
        counts = (*_COUNTS, *_RARE)
        roles = sorted(
            {k.split("/", 1)[1] for k in values if k.split("/", 1)[0] in counts and "/" in k},
            key=natural,
        )
        if not roles:
            return None
        rare = [n for n in _RARE if any(values.get(f"{n}/{r}", 0) for r in roles)]
        columns = [*_COUNTS, *rare]
        table = Table(title="samples per role (since the start)", title_justify="left")
        table.add_column("role")
        for name in columns:
            table.add_column(name.replace("_", " "), justify="right")
        for role in roles:
            table.add_row(role, *(f"{values.get(f'{n}/{role}', 0):.0f}" for n in columns))
        return table

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
            title=f"held-out evaluation (policy v{evaluation.step})", title_justify="left"
        )
        groups = eval_groups(evaluation.values)
        start = eval_groups(self.first_eval.values) if self.first_eval else {}
        labels = sorted({label for rows in groups.values() for label in rows}, key=natural)
        first = next(iter(groups), "")
        levels = all(re.fullmatch(r"d\d+", label) for label in labels)
        table.add_column("level" if levels else "figure")
        for group in groups:
            table.add_column(_heading(group), justify="right")
        table.add_column(f"{_heading(first)} at start", justify="right")
        for label in labels:
            cells = [_cell(groups[g].get(label)) for g in groups]
            table.add_row(label, *cells, _cell(start.get(first, {}).get(label)))
        return table


def _heading(group: str) -> str:
    """A group's column title: arith's `acc_greedy` reads as "greedy"."""
    return group.removeprefix("acc_")


def _key(group: str, label: str) -> str:
    return group if label == _ALL else f"{group}/{label}"


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def make_console() -> Console:
    """The console the launcher prints to (stderr stays free for errors)."""
    return Console(highlight=False)
