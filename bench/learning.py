"""Learning benchmark: does self-play beat a fixed uniform task distribution at equal compute?

    .venv/bin/python bench/learning.py [--minutes 6] [--warmup-steps N]

Runs `sparring run arith` twice from the same warmed-up tiny model and for the same wall time:
once with the adaptive curriculum (the proposer is asked for the difficulty where the solver is
neither always right nor always wrong) and once with difficulties drawn uniformly. Both runs end
with a held-out evaluation of the newest weights. The frontier levels are those the warm-up did
not master (greedy accuracy below 0.9 at the start); the figures are the mean greedy held-out
accuracy over them, at the start and at the end of each run.

Prints a table, then one JSON line: {"bench": "learning", "minutes": ..., "start_acc": ...,
"selfplay_acc": ..., "uniform_acc": ...}. The machine is shared and one run is one sample: read
a difference of a few points as noise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

_MASTERED = 0.9


def _run(run_dir: Path, minutes: float, curriculum: str, extra: list[str]) -> None:
    cmd = [
        sys.executable, "-m", "sparring.cli", "run", "arith", "--run-dir", str(run_dir),
        "--minutes", str(minutes), "--no-inspector",
        "--set", f"game_params.curriculum={curriculum}", *extra,
    ]  # fmt: skip
    print(f"running {curriculum} for {minutes:g} min -> {run_dir}", flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=os.environ)


def _evals(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [m for m in map(json.loads, lines) if m["source"] == "eval"]


def _greedy(values: dict[str, float]) -> dict[str, float]:
    return {k.split("/")[1]: v for k, v in values.items() if k.startswith("acc_greedy/d")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=6.0, help="wall time of each run")
    ap.add_argument("--warmup-steps", type=int, help="override policy.warmup_max_steps")
    ap.add_argument("--keep", type=Path, help="keep the run directories here")
    args = ap.parse_args()
    extra = []
    if args.warmup_steps is not None:
        extra = ["--set", f"policy.warmup_max_steps={args.warmup_steps}"]
    root = args.keep or Path(tempfile.mkdtemp(prefix="sparring-learning-"))
    runs = {c: root / c for c in ("adaptive", "uniform")}
    for curriculum, run_dir in runs.items():
        _run(run_dir, args.minutes, curriculum, extra)

    start = _greedy(_evals(runs["adaptive"])[0]["values"])
    frontier = sorted(level for level, acc in start.items() if acc < _MASTERED)
    end = {c: _greedy(_evals(d)[-1]["values"]) for c, d in runs.items()}

    def mean(accs: dict[str, float]) -> float:
        return round(sum(accs[level] for level in frontier) / max(len(frontier), 1), 3)

    print(f"{'level':>6} {'start':>7} {'self-play':>10} {'uniform':>8}")
    for level in sorted(start):
        mark = " (frontier)" if level in frontier else ""
        print(
            f"{level:>6} {start[level]:>7.2f} {end['adaptive'][level]:>10.2f} "
            f"{end['uniform'][level]:>8.2f}{mark}"
        )
    figures = {
        "bench": "learning",
        "minutes": args.minutes,
        "frontier": frontier,
        "start_acc": mean(start),
        "selfplay_acc": mean(end["adaptive"]),
        "uniform_acc": mean(end["uniform"]),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
