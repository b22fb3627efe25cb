"""A dead nats-server is noticed and said in words (issue 11's faults): a worker ends with one
clear error instead of a traceback that says a retry is safe, the launcher starts its embedded
server again (or stops the run with the reason past the cap, or when an external NATS stays
away), and child exit statuses read "killed (SIGKILL; out of memory?)", not "code -9".
Real nats-servers, really stopped; the arith game with a scripted policy in process, and the
worker process itself with the tiny real model.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_trainer_support import until

from sparring.bus import Bus, BusConfig, EmbeddedServer
from sparring.bus.errors import ConnectionLostError
from sparring.config import RunConfig, SupervisorConfig, WorkerConfig
from sparring.graphs import load_game
from sparring.launcher import Launcher, exit_text
from sparring.messages import Episode, Metric, PolicyVersion
from sparring.policy import ScriptedPolicy, build_tiny_model

FAST = BusConfig(publish_timeout_s=0.5, connect_timeout_s=1.0)
"""Publishes give up after 3 x 0.5 s, so a dead server is noticed in seconds."""


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (0, "exited with code 0"),
        (1, "exited with code 1"),
        (-9, "killed (SIGKILL; out of memory?)"),
        (-15, "terminated (SIGTERM)"),
        (-11, "crashed (SIGSEGV: a segmentation fault)"),
        (-1, "ended by SIGHUP"),
        (137, "exited with code 137 (128 + SIGKILL: killed (SIGKILL; out of memory?))"),
        (-99, "ended by signal 99"),
        (250, "exited with code 250"),
        (None, "still running"),
    ],
)
def test_exit_statuses_are_said_in_words_with_the_signal_name(code: int | None, text: str) -> None:
    assert exit_text(code) == text


async def test_a_worker_whose_server_dies_ends_with_one_clear_connection_lost_error(
    tmp_path: Path, run_name: str
) -> None:
    server = EmbeddedServer(tmp_path / "nats")
    await server.start()
    bus = await Bus.connect(server.url, run=run_name, config=FAST, name="worker-0")
    from sparring.worker import Worker

    async def reload(pv: PolicyVersion) -> None:
        raise AssertionError("no weights are announced in this test")

    game = load_game("arith")
    worker = Worker(
        bus,
        game,
        game.config_model(),
        ScriptedPolicy(lambda m: "1"),
        WorkerConfig(concurrency=2),
        "worker-0",
        run_name,
        reload,
    )
    stop = asyncio.Event()
    playing = asyncio.create_task(worker.run(stop))
    episodes = bus.follow(Episode)
    await asyncio.wait_for(anext(episodes), 30)  # it plays and publishes
    await episodes.aclose()  # type: ignore[attr-defined]
    await server.stop()
    try:
        with pytest.raises(ConnectionLostError) as caught:
            await asyncio.wait_for(playing, 30)
        assert "is the nats-server still running?" in str(caught.value)
        assert "Publishing again is safe" not in str(caught.value)
    finally:
        stop.set()
        await bus.close()


def _worker_run_dir(root: Path, url: str, run: str) -> Path:
    run_dir = root / "run"
    run_dir.mkdir()
    config = RunConfig(run=run, nats=url).model_dump(mode="json")
    config["bus"] = FAST.model_dump(mode="json")
    config["worker"]["concurrency"] = 2
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    return run_dir


@pytest.mark.slow
async def test_the_worker_process_ends_with_a_clear_error_and_no_traceback_when_nats_dies(
    tmp_path: Path, run_name: str
) -> None:
    model = build_tiny_model(tmp_path / "model")
    server = EmbeddedServer(tmp_path / "nats")
    await server.start()
    run_dir = _worker_run_dir(tmp_path, server.url, run_name)
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    env.pop("SPARRING_BUS_CONFIG", None)
    cmd = [sys.executable, "-m", "sparring.worker", "--url", server.url]
    cmd += ["--run-dir", str(run_dir), "--model", str(model), "--index", "0"]
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    bus = await Bus.connect(server.url, run=run_name, name="test")
    try:
        episodes = bus.follow(Episode)
        await asyncio.wait_for(anext(episodes), 120)  # the worker plays
        await episodes.aclose()  # type: ignore[attr-defined]
        await bus.close()
        await server.stop()
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode(errors="replace")
    assert proc.returncode == 1, text[-3000:]
    last = text.strip().splitlines()[-1]
    assert last.startswith("worker-0: error: lost the connection to the NATS server"), text[-3000:]
    assert "Traceback" not in text, text[-3000:]


async def test_the_launcher_restarts_its_dead_embedded_server_on_the_same_port_and_store(
    tmp_path: Path, run_name: str
) -> None:
    config = RunConfig(run=run_name, supervisor=SupervisorConfig(backoff_s=0.1))
    launcher = Launcher(config, tmp_path, None)
    server = launcher.server = EmbeddedServer(tmp_path / "nats")
    url = await server.start()
    bus = await Bus.connect(url, run=run_name, config=FAST, name="launcher")
    watching = asyncio.create_task(launcher._watch_server(bus))
    try:
        kept = Metric(run=run_name, source="test", step=1, values={"x": 1.0})
        await bus.publish(kept)
        assert server._proc is not None
        server._proc.kill()  # what kill -9 does
        await until(lambda: "nats-server" in launcher.restarts and server.running, 10)
        assert server.url == url and not launcher.stop.is_set()
        # The launcher's own connection comes back by itself; what was acked is still there,
        # and the restart is on the record, in words.
        await until(lambda: bus.connected, 10)
        metrics = bus.follow(Metric, from_start=True)
        first = await asyncio.wait_for(anext(metrics), 10)
        record = await asyncio.wait_for(anext(metrics), 10)
        await metrics.aclose()  # type: ignore[attr-defined]
        assert first.id == kept.id
        assert record.source == "supervisor" and record.values["restarts/nats-server"] == 1
        assert record.note.startswith("nats-server killed (SIGKILL; out of memory?): restart 1")
    finally:
        watching.cancel()
        await bus.close()
        await server.stop()


async def test_the_launcher_stops_the_run_with_the_reason_when_its_server_may_not_restart(
    tmp_path: Path, run_name: str
) -> None:
    config = RunConfig(run=run_name, supervisor=SupervisorConfig(max_restarts_per_minute=0))
    launcher = Launcher(config, tmp_path, None)
    server = launcher.server = EmbeddedServer(tmp_path / "nats")
    await server.start()
    bus = await Bus.connect(server.url, run=run_name, config=FAST, name="launcher")
    watching = asyncio.create_task(launcher._watch_server(bus))
    try:
        await asyncio.sleep(1.5)
        assert not launcher.stop.is_set()  # a live server is left alone
        assert server._proc is not None
        server._proc.kill()
        await asyncio.wait_for(launcher.stop.wait(), 5)
        assert launcher.stop_reason.startswith(
            "failed: the embedded nats-server killed (SIGKILL; out of memory?); restarts are off"
        )
        assert str(server.log_file) in launcher.stop_reason
        assert launcher.server_lost
        await asyncio.wait_for(watching, 1)
    finally:
        watching.cancel()
        await bus.close()


async def test_the_launcher_stops_the_run_when_an_external_nats_stays_unreachable(
    tmp_path: Path, run_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sparring.launcher

    monkeypatch.setattr(sparring.launcher, "_SERVER_LOST_S", 2.0)
    server = EmbeddedServer(tmp_path / "nats")  # stands for a NATS the launcher did not start
    await server.start()
    launcher = Launcher(RunConfig(run=run_name), tmp_path, server.url)
    bus = await Bus.connect(server.url, run=run_name, config=FAST, name="launcher")
    watching = asyncio.create_task(launcher._watch_server(bus))
    try:
        await server.stop()
        await asyncio.wait_for(launcher.stop.wait(), 6)
        assert launcher.stop_reason == "failed: NATS unreachable for 2 s"
        assert launcher.server_lost
    finally:
        watching.cancel()
        await bus.close()


async def test_weights_and_the_policy_written_while_the_server_restarts_are_stored_once_it_is_back(
    tmp_path: Path, run_name: str
) -> None:
    server = EmbeddedServer(tmp_path / "nats")
    await server.start()
    bus = await Bus.connect(server.url, run=run_name, config=FAST, name="trainer")
    try:
        assert server._proc is not None
        server._proc.kill()  # the trainer publishes its next weights into the outage
        await server._proc.wait()
        data = os.urandom(100_000)
        pv = PolicyVersion(run=run_name, version=1, step=1, weights="policy-v1")
        writing = asyncio.create_task(bus.put_object("policy-v1", data))
        announcing = asyncio.create_task(bus.set_policy(pv))
        await asyncio.sleep(1.5)  # longer than a publish's 0.5 s timeout: a first try fails
        await server.start()
        await asyncio.wait_for(asyncio.gather(writing, announcing), 15)
        assert await bus.get_object("policy-v1") == data
        assert await bus.get_policy() == pv
    finally:
        await bus.close()
        await server.stop()
