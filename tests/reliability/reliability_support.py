"""Helpers of the reliability suite: `sparring run` as a real process, its processes found in
/proc, its metrics read while it runs, and its sample stream read back once it has stopped.

Processes are found by the run directory in their command line (nats-server's config file,
the workers' and the trainer's --run-dir), not by parentage: an orphan's parent is init.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sparring.bus import Bus, EmbeddedServer
from sparring.messages import Episode, Sample

QUICK = [
    "--no-inspector",
    "--set", "policy.warmup_max_steps=0",
    "--set", "worker.concurrency=8",
    "--set", "trainer.batch_groups=4",
    "--set", "trainer.min_samples=16",
    "--set", "game_params.eval_problems=4",
    "--set", "loop.eval_every=1000",
]  # fmt: skip
"""A run that starts in seconds and steps often: no warm-up, a tiny evaluation."""


def start_sparring(args: list[str], cache: Path, out: Path) -> subprocess.Popen[bytes]:
    """`sparring ARGS` in its own session, like a command typed in a terminal (a Ctrl-C is
    then `os.killpg(proc.pid, SIGINT)`), its output in `out`."""
    env = os.environ | {"SPARRING_CACHE": str(cache), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "sparring.cli", *args],
        stdout=out.open("ab"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )


def processes(needle: str) -> dict[int, str]:
    """Live processes (pid -> command line) whose command line contains `needle`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if needle in cmdline and state != "Z":  # a zombie has ended; its parent reaps it
                found[int(entry.name)] = cmdline
    return found


def pid_of(run_dir: Path, kind: str) -> int | None:
    """The pid of the run's "worker", "trainer" or "nats-server" (the first, if several)."""
    marks = {
        "worker": ("sparring.worker", f"--run-dir {run_dir} "),
        "trainer": ("sparring.trainer", f"--run-dir {run_dir}/trainer "),
        "nats-server": ("nats-server", f"{run_dir}/nats/nats-server.conf"),
    }
    program, mark = marks[kind]
    pids = [pid for pid, cmd in processes(mark).items() if program in cmd]
    return min(pids) if pids else None


def metrics(run_dir: Path, source: str | None = None) -> list[dict[str, Any]]:
    """The run's metrics.jsonl records (of one source), skipping a line being written."""
    path = run_dir / "metrics.jsonl"
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        with contextlib.suppress(json.JSONDecodeError):
            m = json.loads(line)
            if source is None or m["source"] == source:
                out.append(m)
    return out


def trainer_steps(run_dir: Path) -> int:
    """Steps the trainer processes took, committed or not (one line each in its own file)."""
    path = run_dir / "trainer" / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def ledger(run_dir: Path) -> list[list[str]]:
    """The sample ids of every committed step (trained.jsonl), skipping a line being written."""
    path = run_dir / "trainer" / "trained.jsonl"
    steps = []
    for line in path.read_text().splitlines() if path.exists() else []:
        with contextlib.suppress(json.JSONDecodeError):
            steps.append(json.loads(line)["sample_ids"])
    return steps


def wait_until(
    check: Callable[[], Any], limit_s: float, proc: subprocess.Popen[bytes], out: Path
) -> float:
    """Poll `check` every 20 ms until it holds; returns the time (monotonic) it did. Fails
    with the run's output when the launcher ends first or `limit_s` passes."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        assert proc.poll() is None, out.read_text()[-4000:]
        time.sleep(0.02)
    raise AssertionError(f"not reached within {limit_s} s:\n" + out.read_text()[-4000:])


async def read_stream(run_dir: Path, run: str) -> tuple[list[Sample], list[Episode], int, int]:
    """Every Sample and Episode the run's store holds, the trainer's backlog (samples it had
    not finished with when it stopped) and the last policy version, read with a fresh server
    on the stopped run's store."""
    async with EmbeddedServer(run_dir / "nats") as server:
        bus = await Bus.connect(server.url, run=run, name="test")
        try:
            samples = await bus._read_all(Sample)
            episodes = await bus._read_all(Episode)
            backlog = await bus.backlog(Sample, "trainer")
            policy = await bus.get_policy()
        finally:
            await bus.close()
    return samples, episodes, backlog or 0, policy.version if policy else 0
