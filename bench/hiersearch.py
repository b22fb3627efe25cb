"""Hierarchical search benchmark: does training lift the planner on two-source questions, and
what does the refiner do for it?

    .venv/bin/python bench/hiersearch.py [--minutes 8] [--keep DIR] [--set KEY=VALUE ...]

Runs `sparring run hiersearch` for `--minutes` (after the game's warm-up, cached), then reads
greedy held-out planner exact match per hop count at the start (version 0) and the end from the
run's evaluations. On the warmed-up model and on the last checkpoint it plays the held-out
two-source questions once per refiner mode (off, embedding, policy) and reports exact match and
the tokens the planner read: the refiner's effect on the same questions, before and after.

The last line is one JSON object: `minutes`, `start_em` and `end_em` (greedy planner EM on the
2-hop held-out questions), `start_em_h1`, `end_em_h1`, and `refiners` (per mode, `em` and
`read_tokens` at the start and the end).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

_FRONTIER = 2


def _evals(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [m for m in map(json.loads, lines) if m["source"] == "eval"]


async def _refiners(model_dir: Path, weights: Path | None, game_params: dict[str, Any]) -> Any:
    from sparring.graphs.hiersearch import HierSearchConfig, compare_refiners
    from sparring.policy import TransformersPolicy

    policy = TransformersPolicy(model_dir, device="cpu")
    try:
        if weights is not None:
            await policy.load_weights(weights, version=1)
        cfg = HierSearchConfig.model_validate(game_params)
        return await compare_refiners(policy, cfg, _FRONTIER)
    finally:
        await policy.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=8.0, help="wall time of the run")
    ap.add_argument("--keep", type=Path, help="keep the run directory here")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config override, as `sparring run --set` (repeatable)",
    )
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="sparring-hiersearch-"))
    root.mkdir(parents=True, exist_ok=True)
    run_dir = root / "run"
    sets = [item for kv in args.set for item in ("--set", kv)]
    cmd = [
        sys.executable, "-m", "sparring.cli", "run", "hiersearch", "--run-dir", str(run_dir),
        "--minutes", str(args.minutes), "--no-inspector", *sets,
    ]  # fmt: skip
    log = root / "run.log"
    print(f"running hiersearch for {args.minutes:g} min -> {run_dir} (progress: {log})", flush=True)
    with log.open("w") as out:
        subprocess.run(cmd, check=True, stdout=out, stderr=subprocess.STDOUT, env=os.environ)

    evals = _evals(run_dir)
    start, end = evals[0]["values"], evals[-1]["values"]
    print(f"{'hops':>5} {'start':>7} {'end':>7}   (greedy planner EM, held out)")
    for hops in (1, 2):
        key = f"em_greedy/h{hops}"
        if key in start:
            print(f"{hops:>5} {start[key]:>7.2f} {end[key]:>7.2f}")

    import yaml

    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    game_params = config.get("game_params") or {}
    checkpoints = sorted((run_dir / "trainer" / "checkpoints").glob("step-*"))
    last = checkpoints[-1] / "weights.safetensors" if checkpoints else None
    # The run records the model it started from (a cached warm-up's folder) in this file.
    model_dir = Path((run_dir / "initial_model").read_text().strip())
    before = asyncio.run(_refiners(model_dir, None, game_params))
    after = asyncio.run(_refiners(model_dir, last, game_params)) if last else before
    print(f"{'refiner':>10} {'EM start':>9} {'EM end':>7} {'tokens start':>13} {'tokens end':>11}")
    for mode in before:
        b, a = before[mode], after[mode]
        print(
            f"{mode:>10} {b['em']:>9.2f} {a['em']:>7.2f} {b['read_tokens']:>13.0f} "
            f"{a['read_tokens']:>11.0f}"
        )
    figures = {
        "bench": "hiersearch",
        "minutes": args.minutes,
        "start_em": round(start.get(f"em_greedy/h{_FRONTIER}", float("nan")), 3),
        "end_em": round(end.get(f"em_greedy/h{_FRONTIER}", float("nan")), 3),
        "start_em_h1": round(start.get("em_greedy/h1", float("nan")), 3),
        "end_em_h1": round(end.get("em_greedy/h1", float("nan")), 3),
        "refiners": {
            mode: {
                "em": [round(before[mode]["em"], 3), round(after[mode]["em"], 3)],
                "read_tokens": [
                    round(before[mode]["read_tokens"], 1),
                    round(after[mode]["read_tokens"], 1),
                ],
            }
            for mode in before
        },
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
