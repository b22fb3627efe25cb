"""`sparring run kuhn_poker` end to end with the tiny real model: two seats of one policy.

A short warm-up (capped, so not cached), then the live loop as real processes. What must hold:
both seats' moves are trained as their own roles, each against its own RAE baseline; the
evaluator measures the greedy and the sampled policy exactly (exploitability, chips against
both fixed opponents from both seats); the curves are drawn. Learning itself is measured in
docs/learning.md, not here: a run this short only has to turn.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_trainer_support import read_metrics, run_sparring

pytestmark = pytest.mark.slow


def test_a_short_kuhn_run_trains_both_seats_and_evaluates_them(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = [
        "run", "kuhn_poker", "--minutes", "0.6", "--run-dir", str(run_dir), "--no-inspector",
        "--set", "policy.warmup_max_steps=60",
        "--set", "game_params.eval_samples=8",
        "--set", "loop.eval_every=3",
        "--set", "trainer.batch_groups=4",
        "--set", "trainer.min_samples=16",
    ]  # fmt: skip
    r = run_sparring(args, tmp_path / "cache", timeout=400)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    trainer = [m["values"] for m in read_metrics(run_dir, "trainer")]
    assert trainer, r.stdout[-2000:]
    last = trainer[-1]
    assert last["trained/player_0"] > 0 and last["trained/player_1"] > 0
    assert any("advantage/player_0" in v for v in trainer)
    assert any("advantage/player_1" in v for v in trainer)
    evals = read_metrics(run_dir, "eval")
    assert len(evals) >= 2 and evals[-1]["step"] > evals[0]["step"]
    figures = evals[-1]["values"]
    for seat in (0, 1):
        for opponent in ("random", "heuristic"):
            assert -2.0 <= figures[f"chips/{opponent}/seat{seat}"] <= 2.0
    # A best response never does worse than the game's value against the policy.
    assert figures["exploitability/greedy"] >= 0.0
    assert figures["exploitability/sampled"] >= 0.0
    assert 0.0 <= figures["legal_sampled"] <= 1.0
    assert (run_dir / "plots" / "eval.png").exists()
