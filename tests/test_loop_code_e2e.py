"""`sparring run code` end to end with the tiny real model and the real sandbox: every
(task type, role) trained.

A capped warm-up (the proposer's share raised so its format arrives within the cap), then the
live loop as real processes: proposals checked and run twice in the sandbox, solvers of both
types, abduction answers run in the sandbox, the buffer kept in the run directory, the evaluator
reporting held-out accuracy per type and level. Learning is measured in docs/learning.md, not
here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_trainer_support import read_metrics, run_sparring

pytestmark = pytest.mark.slow

ROLES = ("proposer_deduction", "proposer_abduction", "solver_deduction", "solver_abduction")


def test_a_short_code_run_trains_every_task_type_and_role(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = [
        "run", "code", "--minutes", "2", "--run-dir", str(run_dir), "--no-inspector",
        "--set", "game_params.max_difficulty=2",
        "--set", "game_params.warmup_mix={1: 0.6, 2: 0.4}",
        "--set", "game_params.warmup_ready={1: 0.5}",
        "--set", "game_params.warmup_probe=10",
        "--set", "game_params.warmup_proposer_share=0.4",
        "--set", "game_params.eval_programs=10",
        "--set", "policy.warmup_max_steps=400",
        "--set", "loop.eval_every=3",
        "--set", "trainer.batch_groups=4",
        "--set", "trainer.min_samples=16",
    ]  # fmt: skip
    r = run_sparring(args, tmp_path / "cache", timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    trainer = [m["values"] for m in read_metrics(run_dir, "trainer")]
    assert trainer, r.stdout[-2000:]
    last = trainer[-1]
    assert all(last.get(f"trained/{role}", 0) > 0 for role in ROLES), last
    evals = read_metrics(run_dir, "eval")
    assert evals and 0.0 <= evals[-1]["values"]["acc_greedy/deduction/d2"] <= 1.0
    buffers = list((run_dir / "state").glob("worker-*/buffer-*.jsonl"))
    assert buffers, "no valid proposal reached the buffer in the run directory"
