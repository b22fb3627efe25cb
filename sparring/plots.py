"""Learning curves of a run as PNG files, drawn from its metrics.jsonl.

`plot_run(run_dir)` writes `plots/eval.png` (held-out solver accuracy per level against policy
version, greedy solid and sampled dashed), `plots/rewards.png` (reward per role and the workers'
episode stats over time) and `plots/trainer.png` (every trainer figure over steps). The launcher
redraws them while the loop runs; they can be redrawn afterwards from the file alone.
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

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for key in sorted(k for k in series if k.startswith("acc_greedy/")):
        level = key.split("/", 1)[1]
        (line,) = ax.plot(*zip(*sorted(series[key]), strict=True), "-o", ms=3, label=level)
        sampled = series.get(f"acc_sampled/{level}")
        if sampled:
            ax.plot(*zip(*sorted(sampled), strict=True), "--", color=line.get_color(), lw=1)
    ax.set(xlabel="policy version", ylabel="held-out accuracy", ylim=(-0.02, 1.02))
    ax.set_title("solver accuracy per level (greedy solid, sampled dashed)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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
