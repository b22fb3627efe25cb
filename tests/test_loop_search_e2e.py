"""`sparring run search` end to end with the tiny real model: both roles trained.

A small world of one-hop questions and a capped warm-up (600 steps, ~8 minutes on two cores:
the slowest test of the suite), then the live loop as real processes, with a real BM25 index,
the tool loop, the RAG verifier and five solvers per verified question. What must hold: the
proposer's questions pass the filters and the verifier often enough that solvers play, both
roles are trained, the evaluator reports held-out exact match, the curves are drawn.

The warm-up does not reach the readiness bar in this small world (measured: probe EM stayed
below 0.6 at 600 steps, the solver searching the right entity and answering a wrong name), so
this run is not cached and the test asks only that the loop turns. Learning is measured in
docs/learning.md on the full world, not here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_trainer_support import SMALL_WORLD, read_metrics, run_args, run_sparring

pytestmark = pytest.mark.slow


def test_a_short_search_run_trains_the_proposer_and_the_solvers(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    sets = SMALL_WORLD | {
        "game_params.warmup_ready": "{1: 0.6}",
        "policy.warmup_max_steps": 600,
    }
    args = run_args("search", run_dir, 1.5, sets)
    r = run_sparring(args, tmp_path / "cache", timeout=1500)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    trainer = [m["values"] for m in read_metrics(run_dir, "trainer")]
    assert trainer, r.stdout[-2000:]
    last = trainer[-1]
    assert last["trained/proposer"] > 0 and last["trained/solver"] > 0, last
    evals = read_metrics(run_dir, "eval")
    assert evals and 0.0 <= evals[-1]["values"]["em_greedy/h1"] <= 1.0
    assert (run_dir / "plots" / "eval.png").exists()
