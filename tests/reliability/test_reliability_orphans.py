"""No orphans: a sparring command that started a nats-server, a trainer or workers takes them
with it however it ends, SIGKILL included (`sparring inspect RUN` stopped with `kill PID` once
left its nats-server running under init, holding the run's store). Real processes, found in
/proc by the run directory in their command line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from reliability_support import QUICK, pid_of, processes, start_sparring, wait_until

_GONE_S = 10.0


def _gone_within(needle: str, limit_s: float = _GONE_S) -> float:
    """Seconds until no process mentions `needle`; fails listing the ones left."""
    t0 = time.monotonic()
    while processes(needle) and time.monotonic() - t0 < limit_s:
        time.sleep(0.02)
    assert not processes(needle), f"left running: {processes(needle)}"
    return time.monotonic() - t0


def test_a_child_armed_with_die_with_parent_ends_when_its_parent_is_killed() -> None:
    mark = f"orphan-check-{os.getpid()}"
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, sys.executable, mark],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert child in processes(mark)
    parent.kill()
    parent.wait()
    _gone_within(mark, 5.0)


_PARENT = """
import signal, subprocess, sys, time
from sparring.parent_death import die_with_parent
python, mark = sys.argv[1:]
cmd = [python, "-c", "import time; time.sleep(600)", mark]
child = subprocess.Popen(cmd, preexec_fn=die_with_parent(signal.SIGTERM))
print(child.pid, flush=True)
time.sleep(600)
"""


@pytest.fixture(scope="module")
def killed_run(model_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run whose launcher got SIGKILL once its server, trainer and worker were running."""
    root = tmp_path_factory.mktemp("orphans")
    run_dir, out = root / "run", root / "out.txt"
    proc = start_sparring(
        ["run", "arith", "--run-dir", str(run_dir), "--minutes", "3", *QUICK], model_cache, out
    )
    try:
        kinds = ("nats-server", "trainer", "worker")
        wait_until(lambda: all(pid_of(run_dir, k) for k in kinds), 240, proc, out)
        time.sleep(1.0)  # the children past their start, into their work
        proc.kill()
        proc.wait()
        gone = _gone_within(str(run_dir))
        print(f"\nno child of a SIGKILLed `sparring run` left after {gone:.2f} s")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return run_dir


@pytest.mark.slow
def test_sigkill_to_sparring_run_leaves_no_nats_server_trainer_or_worker(
    killed_run: Path,
) -> None:
    assert not processes(str(killed_run))  # checked as it happened, in the fixture
    assert (killed_run / "nats.url").exists()  # the launcher had no chance to tidy up...


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_stopping_sparring_inspect_on_a_stopped_run_leaves_no_nats_server(
    killed_run: Path, model_cache: Path, sig: signal.Signals, tmp_path: Path
) -> None:
    # ...so inspect finds a stale nats.url, and opens the store with a server of its own.
    out = tmp_path / "inspect.txt"
    proc = start_sparring(["inspect", str(killed_run), "--port", "0"], model_cache, out)
    try:
        wait_until(lambda: "sparring inspector for run" in out.read_text(), 60, proc, out)
        assert pid_of(killed_run, "nats-server") is not None
        proc.send_signal(sig)
        proc.wait(10)
        _gone_within(str(killed_run))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
