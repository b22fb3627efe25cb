"""`sparring run hiersearch` end to end with the tiny real model: the planner and both sub-agents
trained.

A small world (60 articles) of one-hop questions and a capped warm-up (400 steps), then the live
loop as real processes: the planner's tool loop delegating to the local and web sub-agent
subgraphs, each with its own BM25 index, the embedding refiner between them and the planner.
What must hold: the planner delegates (sub-agent calls are trained as their own roles), every
role that played is trained, the evaluator reports held-out exact match, the curves are drawn.
The warm-up need not reach the readiness bar here; learning is measured in docs/learning.md on
the full world.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_trainer_support import SMALL_WORLD, read_metrics, run_args, run_sparring

pytestmark = pytest.mark.slow


def test_a_short_hiersearch_run_trains_the_planner_and_both_sub_agents(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    sets = SMALL_WORLD | {
        "game_params.warmup_ready": "{1: 0.5}",
        "policy.warmup_max_steps": 400,
    }
    args = run_args("hiersearch", run_dir, 1.5, sets)
    r = run_sparring(args, tmp_path / "cache", timeout=1500)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    trainer = [m["values"] for m in read_metrics(run_dir, "trainer")]
    assert trainer, r.stdout[-2000:]
    last = trainer[-1]
    for role in ("planner", "local_agent", "web_agent"):
        assert last.get(f"trained/{role}", 0) > 0, last
    evals = read_metrics(run_dir, "eval")
    assert evals and 0.0 <= evals[-1]["values"]["em_greedy/h1"] <= 1.0
    assert (run_dir / "plots" / "eval.png").exists()
