"""A run on a three-node NATS cluster with every stream replicated (bus.replicas=3), and one node
killed (kill -9) mid-run: the run goes on through the other two, and at the end no sample is
stored twice, every sample a stored episode paid is on the stream, and none is trained twice.

All real: three nats-server processes clustered on loopback ports, `sparring run arith --nats
URL1,URL2,URL3` as a process (its trainer and worker included), the tiny model.

Measured here: while the streams elect new leaders (a few seconds) publishes find no stream
("no responders"); the worker then exits and the supervisor starts it again, and the run
goes on. Riding over the election inside the bus, without a restart, is still to do.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from reliability_support import QUICK, ledger, metrics, start_sparring, trainer_steps, wait_until

from sparring.bus import Bus, BusConfig, EmbeddedServer
from sparring.messages import Episode, Sample

pytestmark = pytest.mark.slow

NODES = 3


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


async def _jetstream_ready(urls: list[str], limit_s: float = 60) -> None:
    """Wait until the cluster has elected its JetStream meta leader (streams can be made)."""
    deadline = time.monotonic() + limit_s
    while True:
        nc = await nats.connect(servers=urls, connect_timeout=2, max_reconnect_attempts=0)
        try:
            await nc.jetstream().account_info()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
        finally:
            await nc.close()
        await asyncio.sleep(0.5)


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[list[EmbeddedServer]]:
    root = tmp_path_factory.mktemp("cluster")
    ports = _free_ports(2 * NODES)
    clients, routes = ports[:NODES], ports[NODES:]
    servers = [
        EmbeddedServer(
            root / f"n{i}",
            port=clients[i],
            extra_config={
                "server_name": f"n{i}",
                "cluster": {
                    "name": "sparring",
                    "listen": f"127.0.0.1:{routes[i]}",
                    "routes": [f"nats://127.0.0.1:{p}" for p in routes],
                },
            },
        )
        for i in range(NODES)
    ]
    try:
        await asyncio.gather(*(s.start(wait_s=30) for s in servers))
        await _jetstream_ready([s.url for s in servers])
        yield servers
    finally:
        await asyncio.gather(*(s.stop() for s in servers))


def _worker_reported_since(run_dir: Path, unix: float) -> bool:
    reports = metrics(run_dir, "worker-0")  # a restart's `failed` report has no episodes
    return any(m["time"] > unix and m["values"].get("episodes", 0) > 0 for m in reports)


async def _read_back(url: str, run: str) -> tuple[list[Sample], list[Episode]]:
    bus = await Bus.connect(url, run=run, config=BusConfig(replicas=NODES), name="test")
    try:
        return await bus._read_all(Sample), await bus._read_all(Episode)
    finally:
        await bus.close()


async def test_a_run_survives_a_killed_node_and_loses_or_repeats_nothing(
    cluster: list[EmbeddedServer], model_cache: Path, tmp_path: Path
) -> None:
    urls = ",".join(s.url for s in cluster)
    run_dir, out, run = tmp_path / "run", tmp_path / "out.txt", f"cluster{os.getpid()}"
    args = ["run", "arith", "--nats", urls, "--run-dir", str(run_dir), "--set", f"run={run}"]
    args += [*QUICK, "--minutes", "5", "--set", "bus.replicas=3", "--set", "bus.ack_wait_s=5"]
    proc = start_sparring(args, model_cache, out)
    seen: dict[str, Any] = {}
    try:
        await asyncio.to_thread(wait_until, lambda: trainer_steps(run_dir) >= 2, 240, proc, out)
        # The node the launcher connected to first: its clients must move to the others.
        victim = cluster[0]
        assert victim._proc is not None
        steps, unix, t0 = trainer_steps(run_dir), time.time(), time.monotonic()
        victim._proc.kill()
        stepped = await asyncio.to_thread(
            wait_until, lambda: trainer_steps(run_dir) >= steps + 3, 120, proc, out
        )
        working = await asyncio.to_thread(
            wait_until, lambda: _worker_reported_since(run_dir, unix), 60, proc, out
        )
        seen = {"trainer_3_steps_s": stepped - t0, "worker_report_s": working - t0}
        print(f"\ncluster figures: {seen}")
        os.killpg(proc.pid, signal.SIGINT)
        assert await asyncio.to_thread(proc.wait, 120) == 0, out.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    samples, episodes = await _read_back(cluster[1].url, run)
    ids = [s.id for s in samples]
    assert ids and len(ids) == len(set(ids)), "a sample was stored twice"
    paid = {r.sample_id for e in episodes for r in e.rewards}
    assert paid and paid <= set(ids), f"{len(paid - set(ids))} samples of stored episodes lost"
    trained = [i for step in ledger(run_dir) for i in step]
    assert trained and set(trained) <= set(ids), "a trained sample is not on the stream"
    twice = [i for i, n in Counter(trained).items() if n > 1]
    assert not twice, f"{len(twice)} samples trained twice"
    # The samples published after the node died were stored on the others and trained.
    late = [s for s in samples if s.created_at > unix]
    assert late and {s.id for s in late} & set(trained)
