"""Learning benchmark: does self-play beat a fixed uniform task distribution at equal compute?

    .venv/bin/python bench/learning.py [--game arith|code|search] [--minutes 6] [--warmup-steps N]

Runs `sparring run GAME` twice from the same warmed-up tiny model and for the same wall time:
once as self-play and once on a fixed uniform curriculum. Both runs end with a held-out
evaluation of the newest weights.
- arith: self-play is the adaptive curriculum (the proposer is asked for the difficulty where
  the solver is neither always right nor always wrong), the baseline draws difficulties
  uniformly. The frontier levels are those the warm-up did not master (greedy accuracy below
  0.9 at the start).
- search: self-play is the proposer writing questions (RAG-verified) at the hop count the
  adaptive curriculum picks, the baseline poses the fact table's questions drawn uniformly over
  hop counts (`questions=oracle`, `curriculum=uniform`). The frontier is the highest hop count.
- code: self-play is the proposers writing programs (validity-checked in the sandbox) at the
  difficulty the adaptive curriculum picks, the baseline asks the solvers generated programs
  drawn uniformly over difficulties (`tasks=oracle`, `curriculum=uniform`). The frontier is the
  highest difficulty of deduction.
The figures are the mean greedy held-out accuracy (search: exact match) over the frontier, at
the start and at the end of each run.

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
from typing import Any, NamedTuple

_MASTERED = 0.9


class _Spec(NamedTuple):
    selfplay: tuple[str, ...]  # the --set overrides that make a run self-play
    uniform: tuple[str, ...]  # those that make it the fixed uniform curriculum
    greedy: str  # the held-out figure's key prefix, a level after it
    highest_only: bool  # the frontier is the highest level (else every level not mastered)


_GAMES = {
    "arith": _Spec(
        ("game_params.curriculum=adaptive",),
        ("game_params.curriculum=uniform",),
        "acc_greedy/d",
        False,
    ),
    "code": _Spec(
        ("game_params.tasks=proposer", "game_params.curriculum=adaptive"),
        ("game_params.tasks=oracle", "game_params.curriculum=uniform"),
        "acc_greedy/deduction/d",
        True,
    ),
    "search": _Spec(
        ("game_params.questions=proposer", "game_params.curriculum=adaptive"),
        ("game_params.questions=oracle", "game_params.curriculum=uniform"),
        "em_greedy/h",
        True,
    ),
}


def _run(
    game: str, run_dir: Path, minutes: float, settings: tuple[str, ...], extra: list[str]
) -> None:
    sets = [item for kv in settings for item in ("--set", kv)]
    cmd = [
        sys.executable, "-m", "sparring.cli", "run", game, "--run-dir", str(run_dir),
        "--minutes", str(minutes), "--no-inspector", *sets, *extra,
    ]  # fmt: skip
    print(f"running {game} {' '.join(settings)} for {minutes:g} min -> {run_dir}", flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=os.environ)


def _evals(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [m for m in map(json.loads, lines) if m["source"] == "eval"]


def _greedy(values: dict[str, float], prefix: str) -> dict[str, float]:
    return {k.removeprefix(prefix): v for k, v in values.items() if k.startswith(prefix)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--game", choices=sorted(_GAMES), default="arith", help="the game to learn")
    ap.add_argument("--minutes", type=float, default=6.0, help="wall time of each run")
    ap.add_argument("--warmup-steps", type=int, help="override policy.warmup_max_steps")
    ap.add_argument("--keep", type=Path, help="keep the run directories here")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config override for both runs, as `sparring run --set` (repeatable)",
    )
    args = ap.parse_args()
    extra = [item for kv in args.set for item in ("--set", kv)]
    if args.warmup_steps is not None:
        extra += ["--set", f"policy.warmup_max_steps={args.warmup_steps}"]
    root = args.keep or Path(tempfile.mkdtemp(prefix="sparring-learning-"))
    spec = _GAMES[args.game]
    runs = {"selfplay": root / "selfplay", "uniform": root / "uniform"}
    for name, setting in (("selfplay", spec.selfplay), ("uniform", spec.uniform)):
        _run(args.game, runs[name], args.minutes, setting, extra)

    start = _greedy(_evals(runs["selfplay"])[0]["values"], spec.greedy)
    levels = sorted(start, key=int)
    if spec.highest_only:
        frontier = levels[-1:]
    else:
        frontier = [level for level in levels if start[level] < _MASTERED]
    end = {c: _greedy(_evals(d)[-1]["values"], spec.greedy) for c, d in runs.items()}

    def mean(accs: dict[str, float]) -> float:
        return round(sum(accs[level] for level in frontier) / max(len(frontier), 1), 3)

    print(f"{'level':>6} {'start':>7} {'self-play':>10} {'uniform':>8}")
    for level in levels:
        mark = " (frontier)" if level in frontier else ""
        print(
            f"{level:>6} {start[level]:>7.2f} {end['selfplay'][level]:>10.2f} "
            f"{end['uniform'][level]:>8.2f}{mark}"
        )
    figures = {
        "bench": "learning",
        "game": args.game,
        "minutes": args.minutes,
        "frontier": frontier,
        "start_acc": mean(start),
        "selfplay_acc": mean(end["selfplay"]),
        "uniform_acc": mean(end["uniform"]),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
