"""The inspector's HTTP server and live stream, over a real nats-server and real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sparring.bus import Bus, EmbeddedServer
from sparring.inspector import PortInUseError, serve_inspector
from sparring.inspector.errors import RunNotFoundError
from sparring.inspector.examples import example_episode
from sparring.inspector.source import newest_run, open_run, run_name


async def _get(url: str, path: str, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host or parts.netloc}\r\n\r\n".encode())
    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


async def _events(url: str, query: str, until: int) -> list[dict]:
    """Read the SSE stream until `until` episode events came (10 s at most)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(f"GET /api/stream?{query} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
    events: list[dict] = []
    name = ""
    try:
        async with asyncio.timeout(10):
            while sum(e["event"] == "episode" for e in events) < until:
                line = (await reader.readline()).decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.append({"event": name, **json.loads(line.removeprefix("data: "))})
    finally:
        writer.close()
    return events


async def test_every_response_carries_a_strict_content_security_policy(
    nats_url: str, run_name: str
) -> None:
    server = await serve_inspector(nats_url, run_name)
    try:
        for path in ("/", "/static/app.js", "/static/app.css", "/nope", "/api/episodes/x"):
            status, headers, _ = await _get(server.url, path)
            csp = headers["content-security-policy"]
            assert "script-src 'self'" in csp and "default-src 'none'" in csp, path
            assert "unsafe-inline" not in csp
            assert headers["x-content-type-options"] == "nosniff"
        status, headers, body = await _get(server.url, "/")
        assert status == 200 and headers["content-type"].startswith("text/html")
        assert b'src="/static/app.js"' in body
        assert (await _get(server.url, "/static/../web.py"))[0] == 404
    finally:
        await server.close()


async def test_a_request_for_another_host_name_is_refused(nats_url: str, run_name: str) -> None:
    # A page on evil.example that rebinds its DNS name to 127.0.0.1 sends its own Host header.
    server = await serve_inspector(nats_url, run_name)
    try:
        assert (await _get(server.url, "/", host="evil.example:80"))[0] == 421
        assert (await _get(server.url, "/", host=f"localhost:{server._http.port}"))[0] == 200
    finally:
        await server.close()


async def test_the_stream_replays_stored_episodes_then_follows_new_ones_with_filters(
    nats_url: str, run_name: str, bus: Bus
) -> None:
    early = [example_episode(run_name, solved=[True]), example_episode(run_name, solved=[False])]
    await bus.publish_many(early)
    server = await serve_inspector(nats_url, run_name)
    try:
        reading = asyncio.create_task(_events(server.url, "verdict=solved", until=2))
        await asyncio.sleep(0.3)
        late = example_episode(run_name, solved=[True, False], game="arith")
        await bus.publish(late)
        await bus.publish(example_episode(run_name, solved=[False, False]))  # filtered out
        events = await reading
        episodes = [e for e in events if e["event"] == "episode"]
        assert [e["id"] for e in episodes] == [early[0].id, late.id]
        assert any(e["event"] == "ready" and e["run"] == run_name for e in events)
        status, _, body = await _get(server.url, f"/api/episodes/{late.id}")
        assert status == 200
        assert json.loads(body)["episode"]["game"] == "arith"
    finally:
        await server.close()


async def test_a_bad_filter_value_is_answered_with_a_400_that_says_why(
    nats_url: str, run_name: str
) -> None:
    server = await serve_inspector(nats_url, run_name)
    try:
        status, _, body = await _get(server.url, "/api/stream?version=latest")
        assert status == 400 and b"version" in body
    finally:
        await server.close()


async def test_a_taken_port_is_a_typed_error_that_is_also_an_os_error(
    nats_url: str, run_name: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match="pick another --port") as info:
            await serve_inspector(nats_url, run_name, port=port)
        assert isinstance(info.value, OSError)


async def test_a_finished_run_directory_opens_with_no_server_running(tmp_path: Path) -> None:
    run_dir = tmp_path / "arith-finished"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("game: arith\nrun: arith-1\nseed: 0\n")
    assert run_name(run_dir) == "arith-1"
    episodes = [example_episode("arith-1", seed=str(i)) for i in range(3)]
    async with EmbeddedServer(run_dir / "nats") as nats:
        bus = await Bus.connect(nats.url, run="arith-1", name="worker")
        await bus.publish_many(episodes)
        await bus.close()
    async with open_run(run_dir, None) as (bus_url, run):
        server = await serve_inspector(bus_url, run)
        try:
            events = await _events(server.url, "", until=3)
        finally:
            await server.close()
    assert [e["id"] for e in events if e["event"] == "episode"] == [e.id for e in episodes]


async def test_a_directory_without_a_store_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(RunNotFoundError, match="--nats"):
        async with open_run(tmp_path, None):
            pass


def test_the_newest_run_directory_is_the_default(tmp_path: Path) -> None:
    old, new = tmp_path / "arith-old", tmp_path / "arith-new"
    old.mkdir()
    new.mkdir()
    os.utime(old, (1, 1))
    assert newest_run(tmp_path) == new
    assert run_name(new) == "arith-new"  # no config.yaml: the directory's name
    with pytest.raises(RunNotFoundError, match="pass RUN"):
        newest_run(tmp_path / "none")
