"""Exactly-once effect: kill -9 the trainer process mid-run, restart it, every sample trained once.

The trainer runs as the launcher runs it (`python -m sparring.trainer`, its own process) against
the session's real nats-server. Its ledger (`trained.jsonl`, reconciled from the checkpoints)
lists the samples of each committed step; after a SIGKILL and a restart it must hold every
published sample exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_trainer_support import build_model_dir, group

from sparring.bus import Bus
from sparring.trainer.__main__ import main


def _ledger(run_dir: Path) -> list[list[str]]:
    path = run_dir / "trained.jsonl"
    if not path.exists():
        return []
    steps = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):  # the line being appended right now
            steps.append(json.loads(line)["sample_ids"])
    return steps


def _start(url: str, run: str, model: Path, run_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    config = {
        "device": "cpu",
        "threads": 1,
        "batch_groups": 2,
        "checkpoint_every": 3,
        "publish_every": 1,
        "max_staleness": 1000,
        "lr": 1e-3,
    }
    cmd = [sys.executable, "-m", "sparring.trainer", "--url", url, "--run", run]
    cmd += ["--model", str(model), "--run-dir", str(run_dir), "--config", json.dumps(config)]
    cmd += ["--bus-config", json.dumps({"ack_wait_s": 2.0})]
    return subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _steps(run_dir: Path) -> int:
    """Steps trained, committed or not (one metrics line each)."""
    path = run_dir / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


async def _wait(check, proc: subprocess.Popen[bytes], log: Path, limit_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(limit_s / 0.01)):
        if check():
            return
        assert proc.poll() is None, _tail(log)
        await asyncio.sleep(0.01)
    raise AssertionError(f"not reached within {limit_s} s: " + _tail(log))


async def test_a_sample_is_trained_exactly_once_across_a_kill_9_and_a_restart(
    bus: Bus, nats_url: str, tmp_path: Path
) -> None:
    model = build_model_dir(tmp_path / "model")
    run_dir, log = tmp_path / "run", tmp_path / "trainer.log"
    patterns = [[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0]]
    samples = [
        s for i in range(30) for s in group(f"g{i}", patterns[i % 3], run=bus.run, version=0)
    ]
    first = _start(nats_url, bus.run, model, run_dir, log)
    try:
        # 8 groups = 4 steps: steps 1-3 are checkpointed (checkpoint_every 3), step 4 is trained
        # but not committed when the kill lands, so its samples must come back and train once.
        await bus.publish_many(samples[:32])
        await _wait(lambda: len(_ledger(run_dir)) == 3 and _steps(run_dir) == 4, first, log)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    await bus.publish_many(samples[32:])

    second = _start(nats_url, bus.run, model, run_dir, log)
    try:
        await _wait(lambda: sum(len(ids) for ids in _ledger(run_dir)) >= len(samples), second, log)
        await asyncio.sleep(0.5)  # anything trained twice would show up now
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, _tail(log)
    finally:
        second.kill()

    ids = [i for step in _ledger(run_dir) for i in step]
    assert len(ids) == len(set(ids)), "a sample was trained twice"
    assert set(ids) == {s.id for s in samples}
    assert "resumed from" in _tail(log)
    assert _steps(run_dir) == len(_ledger(run_dir)) + 1  # step 4 ran twice: lost, then redone
    pv = await bus.get_policy()
    assert pv is not None and pv.step == len(_ledger(run_dir))


def test_the_entry_point_refuses_a_bad_config_with_the_field_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["--url", "nats://127.0.0.1:1", "--run", "r", "--model", str(tmp_path)]
    assert main([*args, "--run-dir", str(tmp_path), "--config", '{"clip_high": 5.0}']) == 2
    assert "is_truncation" in capsys.readouterr().err
