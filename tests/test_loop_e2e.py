"""`sparring run` end to end with the tiny real model: the loop turns, and --resume continues it.

One short run (tiny model built offline and warmed up briefly, embedded NATS, trainer and one
worker as real processes), then a resumed one on the same run directory. What must hold:
versions advance, samples are trained, the worker reloads the new weights and tags its samples
with them, the evaluator measures the solver, the curves are drawn, and a resumed run goes on
from the trainer's checkpoint instead of starting over.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from test_trainer_support import run_sparring

pytestmark = pytest.mark.slow

_SETTINGS = [
    "--set", "policy.warmup_max_steps=150",
    "--set", "worker.concurrency=8",
    "--set", "worker.max_backlog=48",
    "--set", "loop.eval_every=3",
    "--set", "trainer.batch_groups=4",
    "--set", "trainer.min_samples=16",
    "--set", "game_params.eval_problems=20",
]  # fmt: skip


def _run(args: list[str], cache: Path, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    return run_sparring(["run", *args], cache, timeout)


def _metrics(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        m = json.loads(line)
        by_source[m["source"]].append(m)
    return by_source


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("loop")
    run_dir, cache = root / "run", root / "cache"
    args = ["arith", "--minutes", "0.8", "--run-dir", str(run_dir), *_SETTINGS]
    r = _run([*args, "--set", "loop.inspector_port=0"], cache)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return run_dir, cache, r.stdout


def test_a_short_run_advances_versions_and_trains_samples(
    first_run: tuple[Path, Path, str],
) -> None:
    run_dir, _, stdout = first_run
    trainer = _metrics(run_dir)["trainer"]
    assert len(trainer) >= 2, stdout[-2000:]
    steps = [m["step"] for m in trainer]
    assert steps == sorted(steps) and steps[-1] >= 2
    assert sum(m["values"]["samples"] for m in trainer) > 0
    assert "time limit" in stdout
    assert "inspector: http://127.0.0.1:" in stdout


def test_workers_reload_the_weights_the_trainer_publishes(
    first_run: tuple[Path, Path, str],
) -> None:
    run_dir, _, _ = first_run
    workers = _metrics(run_dir)["worker-0"]
    assert workers, "the worker reported nothing"
    assert max(m["values"]["policy_version"] for m in workers) >= 1
    assert sum(m["values"]["episodes"] for m in workers) > 0


def test_the_solver_is_evaluated_and_the_curves_are_drawn(
    first_run: tuple[Path, Path, str],
) -> None:
    run_dir, _, _ = first_run
    evals = _metrics(run_dir)["eval"]
    assert evals[0]["step"] == 0
    assert len({m["step"] for m in evals}) >= 2  # the start and at least one later version
    assert any(k.startswith("acc_greedy/d") for k in evals[0]["values"])
    for name in ("eval.png", "trainer.png", "rewards.png"):
        assert (run_dir / "plots" / name).stat().st_size > 10_000, name
    assert (run_dir / "config.yaml").exists()
    assert not (run_dir / "nats.url").exists()  # removed when the run stopped


def test_resume_continues_from_the_checkpoint(first_run: tuple[Path, Path, str]) -> None:
    run_dir, cache, _ = first_run
    before = _metrics(run_dir)
    last_step = max(m["step"] for m in before["trainer"])
    # Stopped with Ctrl-C this time: the children finish cleanly, the launcher exits 0.
    env = os.environ | {"SPARRING_CACHE": str(cache), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparring.cli", "run", "--resume", str(run_dir), "--no-inspector"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, like a command typed in a terminal
    )
    deadline = time.monotonic() + 120
    worker_log = run_dir / "logs" / "worker-0.log"
    size = worker_log.stat().st_size
    while time.monotonic() < deadline and len(_metrics(run_dir)["worker-0"]) <= len(
        before["worker-0"]
    ):
        time.sleep(1)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group gets it
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out[-3000:]
    assert "interrupted" in out
    assert "Traceback" not in out, out[-3000:]
    assert worker_log.stat().st_size >= size
    log = (run_dir / "logs" / "trainer.log").read_text()
    assert f"step-{last_step:08d} at step {last_step}" in log  # resumed, not restarted
    after = _metrics(run_dir)
    # The worker starts from the trained weights, not from the initial model.
    resumed_workers = after["worker-0"][len(before["worker-0"]) :]
    assert (
        resumed_workers and min(m["values"]["policy_version"] for m in resumed_workers) >= last_step
    )
    # The history is replayed once into metrics.jsonl, never duplicated; steps go on from where
    # they were; the baseline evaluation is not run again.
    steps = [m["step"] for m in after["trainer"]]
    assert steps[: len(before["trainer"])] == [m["step"] for m in before["trainer"]]
    assert all(s > last_step for s in steps[len(before["trainer"]) :])
    assert [m["step"] for m in after["eval"]].count(0) == 1


def test_a_users_game_file_runs_live_without_touching_sparring(tmp_path: Path) -> None:
    game_file = Path(__file__).resolve().parents[1] / "examples" / "guess_number" / "game.py"
    run_dir = tmp_path / "run"
    r = _run(
        [str(game_file), "--minutes", "0.4", "--run-dir", str(run_dir), "--no-inspector",
         "--set", "policy.warmup_max_steps=20", "--set", "trainer.min_samples=16"],
        tmp_path / "cache",
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    metrics = _metrics(run_dir)
    assert sum(m["values"]["episodes"] for m in metrics["worker-0"]) > 0
    # ...and trained: the game declares its solver's credit (a running baseline; every guess is
    # its own group), so its samples reach optimizer steps instead of being skipped.
    trainer = metrics["trainer"]
    assert trainer and trainer[-1]["step"] > 0
    assert trainer[-1]["values"]["trained/solver"] > 0
    assert "skipped_singleton/solver" not in trainer[-1]["values"]
    assert (run_dir / "config.yaml").read_text().startswith("game: ")
