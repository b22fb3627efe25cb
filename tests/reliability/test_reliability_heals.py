"""A run that heals itself: kill -9 a rollout worker, then the trainer, then the embedded
nats-server of one live `sparring run arith`; each is started again and the run goes on, and
at the end no published sample is stored twice or trained twice, and every trained one was
published.

One run, the faults one after the other (a run per fault would cost its start-up three times
over), all real: the launcher, its processes, nats-server, the tiny model. The restart figures
are printed (`pytest -s`) and reported in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from reliability_support import (
    QUICK,
    ledger,
    metrics,
    pid_of,
    processes,
    read_stream,
    start_sparring,
    trainer_steps,
    wait_until,
)

from sparring.messages import Sample
from sparring.trainer.config import GROUP_RELATIVE, TrainerConfig

pytestmark = pytest.mark.slow

_SETTINGS = [
    *QUICK,
    "--minutes", "5",  # a guard: the test stops the run with Ctrl-C once the faults are done
    "--set", "trainer.checkpoint_every=2",  # a step trained but not committed when killed
    "--set", "bus.ack_wait_s=5",  # what the killed trainer held comes back within seconds
    "--set", "supervisor.backoff_s=0.5",
]  # fmt: skip


def _kill(pid: int | None) -> float:
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    return time.monotonic()


def _worker_reported_since(run_dir: Path, unix: float) -> bool:
    return any(
        m["time"] > unix and m["values"]["episodes"] > 0 for m in metrics(run_dir, "worker-0")
    )


@pytest.fixture(scope="module")
def healed(model_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The run, its three faults and what was measured of each."""
    root = tmp_path_factory.mktemp("heals")
    run_dir, out, run = root / "run", root / "out.txt", f"heals{os.getpid()}"
    proc = start_sparring(
        ["run", "arith", "--run-dir", str(run_dir), "--set", f"run={run}", *_SETTINGS],
        model_cache,
        out,
    )
    seen: dict[str, Any] = {"run_dir": run_dir, "run": run, "out": out}
    try:
        wait_until(
            lambda: trainer_steps(run_dir) >= 2 and pid_of(run_dir, "worker"), 240, proc, out
        )

        # 1. A rollout worker, mid-run. Its recovery (the model loaded again, episodes played)
        # is checked after the trainer's fault, which overlaps it: one wait instead of two.
        worker, worker_unix = pid_of(run_dir, "worker"), time.time()
        t_worker = _kill(worker)
        back = wait_until(lambda: pid_of(run_dir, "worker") not in (None, worker), 30, proc, out)
        seen["worker"] = {"process_s": back - t_worker}

        # 2. The trainer, with a step trained and not yet committed (checkpoint_every 2).
        wait_until(lambda: trainer_steps(run_dir) > len(ledger(run_dir)), 60, proc, out)
        trainer, steps = pid_of(run_dir, "trainer"), trainer_steps(run_dir)
        committed = len(ledger(run_dir))
        t0 = _kill(trainer)
        back = wait_until(lambda: pid_of(run_dir, "trainer") not in (None, trainer), 30, proc, out)
        trained = wait_until(lambda: len(ledger(run_dir)) > committed, 90, proc, out)
        seen["trainer"] = {
            "process_s": back - t0,
            "committed_step_s": trained - t0,
            "steps_at_kill": steps,
            "committed_at_kill": committed,
        }
        working = wait_until(lambda: _worker_reported_since(run_dir, worker_unix), 60, proc, out)
        seen["worker"]["working_s"] = working - t_worker

        # 3. The embedded nats-server, under load.
        server, unix = pid_of(run_dir, "nats-server"), time.time()
        steps = trainer_steps(run_dir)
        t0 = _kill(server)
        back = wait_until(
            lambda: pid_of(run_dir, "nats-server") not in (None, server), 30, proc, out
        )
        stepped = wait_until(lambda: trainer_steps(run_dir) > steps, 90, proc, out)
        working = wait_until(lambda: _worker_reported_since(run_dir, unix), 60, proc, out)
        seen["nats-server"] = {
            "process_s": back - t0,
            "trainer_step_s": stepped - t0,
            "worker_report_s": working - t0,
        }
        time.sleep(3)  # a last stretch of ordinary running after the faults

        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: everything stops in order
        seen["exit"] = proc.wait(120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    stored = asyncio.run(read_stream(run_dir, run))
    seen["samples"], seen["episodes"], seen["backlog"], seen["version"] = stored
    shown = {k: v for k, v in seen.items() if k not in ("samples", "episodes")}
    print(f"\nreliability figures: {shown}")
    return seen


def test_each_killed_process_is_started_again_and_the_run_ends_cleanly(
    healed: dict[str, Any],
) -> None:
    text = healed["out"].read_text()
    assert healed["exit"] == 0, text[-4000:]
    assert "stopped: interrupted" in text and "Traceback" not in text, text[-4000:]
    assert not processes(str(healed["run_dir"]))  # nothing left running either


def test_every_restart_is_one_record_with_the_process_its_exit_in_words_and_its_count(
    healed: dict[str, Any],
) -> None:
    records = metrics(healed["run_dir"], "supervisor")
    first: dict[str, dict[str, Any]] = {}
    for r in records:
        [(key, count)] = [(k, v) for k, v in r["values"].items() if k.startswith("restarts/")]
        first.setdefault(key.removeprefix("restarts/"), r | {"count": count})
    for name in ("worker-0", "trainer", "nats-server"):
        assert first[name]["count"] == 1, records
        assert first[name]["values"]["exit_code"] == -9
        assert first[name]["note"].startswith(f"{name} killed (SIGKILL; out of memory?): restart 1")
    # Nothing else was restarted: not a child that exited 0 when Ctrl-C stopped the run, and
    # not the trainer when the server died under it (its writes wait for the server).
    assert sorted(first) == ["nats-server", "trainer", "worker-0"] and len(records) == 3, records
    # The dashboard line (no terminal here) says how often each was restarted.
    assert "trainer_restarts=1" in healed["out"].read_text()


def test_the_trainer_resumed_from_its_checkpoint_and_redid_only_the_lost_step(
    healed: dict[str, Any],
) -> None:
    log = (healed["run_dir"] / "logs" / "trainer.log").read_text()
    assert "trainer resumed from" in log
    steps = ledger(healed["run_dir"])
    # Committed steps are numbered on from the checkpoint: the step trained and lost with the
    # killed trainer is trained again (its samples redelivered), never kept twice.
    assert trainer_steps(healed["run_dir"]) > len(steps)
    assert healed["trainer"]["steps_at_kill"] > healed["trainer"]["committed_at_kill"]


def test_no_published_sample_is_lost_published_twice_or_trained_twice(
    healed: dict[str, Any],
) -> None:
    samples, backlog = healed["samples"], healed["backlog"]
    ids = [s.id for s in samples]
    assert len(ids) == len(set(ids)), "a sample was stored twice"
    # A worker publishes an episode's samples before the episode: every sample a stored
    # episode paid is on the stream, the killed worker's last episodes included.
    paid = {r.sample_id for e in healed["episodes"] for r in e.rewards}
    assert paid and paid <= set(ids), f"{len(paid - set(ids))} samples of stored episodes lost"
    trained = [i for step in ledger(healed["run_dir"]) for i in step]
    twice = [i for i, n in Counter(trained).items() if n > 1]
    assert not twice, f"{len(twice)} samples trained twice"
    assert set(trained) <= set(ids), "a trained sample is not on the stream"
    # Every stored sample the trainer did not train has a reason it may not be trained that
    # can be read off the stream (or is still waiting): too stale for the trainer's last
    # version (versions only grow, so one dropped stale earlier is stale now), or in a group
    # that is incomplete, or all-equal under a group-relative estimator. Anything else would
    # be a lost sample. (The trainer's own counters cannot settle it: they are checkpointed
    # with steps, and what it acks untrained after its last one is in no checkpoint.)
    config_file = healed["run_dir"] / "trainer" / "trainer_config.json"
    trainer = TrainerConfig.model_validate_json(config_file.read_text())
    done = set(trained)
    untrained = [s for s in samples if s.id not in done]
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        groups[s.group_id].append(s)
    stale = {
        s.id for s in untrained if healed["version"] - s.policy_version > trainer.max_staleness
    }
    skipped = {
        s.id for s in untrained if s.id not in stale and _skippable(groups[s.group_id], trainer)
    }
    unexplained = len(untrained) - len(stale) - len(skipped)
    print(
        f"\nsamples: {len(ids)} published ({len(paid)} paid by {len(healed['episodes'])} stored "
        f"episodes, all on the stream), {len(trained)} trained once, 0 twice; untrained: "
        f"{len(stale)} stale, {len(skipped)} in skipped groups, {backlog} waiting, "
        f"{unexplained} unexplained"
    )
    assert unexplained <= backlog, f"{unexplained - backlog} samples neither trained nor waiting"


def _skippable(group: list[Sample], trainer: TrainerConfig) -> bool:
    """A group the trainer drops or skips: incomplete, or, under a group-relative estimator,
    with all rewards equal."""
    relative = trainer.estimator(group[0].game, group[0].role) in GROUP_RELATIVE
    return len(group) < group[0].group_size or (relative and len({s.reward for s in group}) == 1)
