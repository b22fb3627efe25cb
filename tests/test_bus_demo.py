"""`sparring bus-demo` runs end to end, on its own embedded server or on a given one."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import nats

SPARRING = [sys.executable, "-m", "sparring.cli"]


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SPARRING, "bus-demo", "--samples", "300", "--tokens", "64", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_demo_starts_a_server_streams_every_sample_and_stops_it(tmp_path: Path) -> None:
    r = run_demo("--dir", str(tmp_path / "nats"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "300/300" in r.stdout
    assert "consume + ack" in r.stdout
    assert "server stopped" in r.stdout
    assert (tmp_path / "nats" / "nats-server.log").exists()


async def demo_streams(url: str) -> list[str]:
    nc = await nats.connect(url)
    names = [s.config.name for s in await nc.jetstream().streams_info()]
    await nc.close()
    return [
        n
        for n in names
        if n.startswith(("sparring-demo-", "KV_sparring-demo-", "OBJ_sparring-demo-"))
    ]


async def test_the_demo_uses_a_given_server_and_leaves_no_run_behind(nats_url: str) -> None:
    r = await asyncio.to_thread(run_demo, "--nats", nats_url)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "only" not in r.stdout  # every sample came back
    assert "server stopped" not in r.stdout
    assert await demo_streams(nats_url) == []
