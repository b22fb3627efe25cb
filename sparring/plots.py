"""Learning curves of a run as PNG files, drawn from its metrics.jsonl.

`plot_run(run_dir)` writes `plots/eval.png` (every figure the game's `evaluate` returned, against
policy version: keys `group/label` are grouped by their first '/' part, a flat key is its own
group; one colour per label, the first group solid and the others dashed or dotted, labels sorted
naturally; arith's `acc_greedy/d1` and `acc_sampled/d1` read as greedy solid, sampled dashed),
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

    from sparring.dashboard import eval_groups

    # Regroup the keys; each series is a list of (version, value) points.
    groups = eval_groups({k: 0.0 for k in series})
    styles = ["-o", "--", ":", "-."]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    colours: dict[str, str] = {}
    for n, (group, labels) in enumerate(groups.items()):
        for label in labels:
            key = group if label == "all" else f"{group}/{label}"
            name = label if label != "all" else group
            line_style = styles[min(n, len(styles) - 1)]
            (line,) = ax.plot(
                *zip(*sorted(series[key]), strict=True),
                line_style,
                ms=3,
                lw=1.4 if n == 0 else 1,
                color=colours.get(name),
                label=name if name not in colours else None,
            )
            colours.setdefault(name, line.get_color())
    ax.set(xlabel="policy version", ylabel="held-out figure")
    names = [f"{g.removeprefix('acc_')} {_STYLE_WORDS[min(n, 3)]}" for n, g in enumerate(groups)]
    ax.set_title("held-out evaluation (" + ", ".join(names) + ")")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


_STYLE_WORDS = ("solid", "dashed", "dotted", "dash-dot")


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
