"""Learning curves of a run as PNG files, drawn from its metrics.jsonl.

`plot_run(run_dir)` writes `plots/eval.png` (every figure the game's `evaluate` returned, against
policy version: keys `group/label` are grouped by their first '/' part, a flat key is its own
group, one panel per group; `X_sampled` is drawn dashed in the panel of `X` (or `X_greedy`,
solid), one colour per label, labels sorted naturally: arith's `acc_greedy/d1` and
`acc_sampled/d1` share the panel `acc`, Kuhn's `chips/...` and `chips_sampled/...` the panel
`chips`),
`plots/rewards.png` (reward per role and the workers' episode stats over time) and
`plots/trainer.png` (every trainer figure over steps). The launcher redraws them while the loop
runs; they can be redrawn afterwards from the file alone.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from sparring.messages import Metric

__all__ = ["plot_run", "read_metrics"]

Series = dict[str, list[tuple[float, float]]]


def read_metrics(path: Path) -> list[Metric]:
    """Every Metric in a metrics.jsonl file (lines that do not parse are skipped)."""
    out: list[Metric] = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        try:
            out.append(Metric.model_validate(json.loads(line)))
        except ValueError:
            continue  # a line cut short by a crash: the rest of the file is still good
    return out


def plot_run(run_dir: Path) -> list[Path]:
    """Draw the run's curves; returns the PNG paths written (none if there is nothing yet)."""
    metrics = read_metrics(run_dir / "metrics.jsonl")
    if not metrics:
        return []
    import matplotlib

    matplotlib.use("Agg")
    out_dir = run_dir / "plots"
    out_dir.mkdir(exist_ok=True)
    t0 = min(m.time for m in metrics)
    evals, workers, trainer = _split(metrics, t0)
    written = []
    if evals:
        written.append(_draw_eval(evals, out_dir / "eval.png"))
    if workers:
        written.append(_draw(workers, out_dir / "rewards.png", "minutes", "workers"))
    if trainer:
        written.append(_draw(trainer, out_dir / "trainer.png", "step", "trainer"))
    return written


def _split(metrics: list[Metric], t0: float) -> tuple[Series, Series, Series]:
    evals: Series = defaultdict(list)
    workers: Series = defaultdict(list)
    trainer: Series = defaultdict(list)
    for m in metrics:
        for key, value in m.values.items():
            if m.source == "eval":
                evals[key].append((m.step, value))
            elif m.source.startswith("worker"):
                if key.startswith(("reward/", "stat/")):
                    workers[key].append(((m.time - t0) / 60, value))
            elif m.source == "trainer":
                trainer[key].append((m.step, value))
    return evals, workers, trainer


def _draw_eval(series: Series, path: Path) -> Path:
    import matplotlib.pyplot as plt

    from sparring.dashboard import eval_groups, natural

    # One panel per figure, so chips, rates and distances are not squeezed onto one axis; a
    # group `X_sampled` (or `X_greedy`) shares the panel of X, dashed (solid), each label in
    # one colour, so greedy and sampled of one level read side by side.
    groups = eval_groups({k: 0.0 for k in series})
    panels: dict[str, list[str]] = {}
    for group in groups:
        panels.setdefault(_panel(group), []).append(group)
    names = sorted(panels, key=natural)
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        colours: dict[str, str] = {}
        members = sorted(panels[name], key=lambda g: g.endswith("_sampled"))
        for group in members:
            sampled = group.endswith("_sampled")
            for label in groups[group]:
                key = group if label == "all" else f"{group}/{label}"
                line_name = label if label != "all" else name
                (line,) = ax.plot(
                    *zip(*sorted(series[key]), strict=True),
                    "--" if sampled else "-o",
                    ms=3,
                    lw=1 if sampled else 1.4,
                    color=colours.get(line_name),
                    label=line_name if line_name not in colours else None,
                )
                colours.setdefault(line_name, line.get_color())
        both = len(members) > 1
        ax.set_title(name + (" (solid greedy, dashed sampled)" if both else ""), fontsize=9)
        ax.set_xlabel("policy version", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.suptitle("held-out evaluation")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _panel(group: str) -> str:
    """The panel a group is drawn in: `acc_greedy` and `acc_sampled` both in `acc`."""
    for suffix in ("_sampled", "_greedy"):
        if group.endswith(suffix):
            return group.removesuffix(suffix)
    return group


def _draw(series: Series, path: Path, xlabel: str, title: str) -> Path:
    import matplotlib.pyplot as plt

    keys = sorted(series)
    cols = 3
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.6 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        ax.plot(*zip(*sorted(series[key]), strict=True), lw=1.2)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
