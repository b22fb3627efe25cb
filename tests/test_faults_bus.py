"""Hostile bytes from a raw NATS client (issue 11's faults): each is refused with a reason, and
no consumer dies of one message. Real nats-servers; the bad bytes go through plain nats-py, as
an attacker's or a buggy client's would, never through sparring's own publish.
"""

from __future__ import annotations

import asyncio
import io
import math
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgpack
import nats
import pytest
from rich.console import Console
from test_trainer_support import group, until

from sparring.bus import Bus, BusConfig, EmbeddedServer
from sparring.config import RunConfig
from sparring.inspector.examples import example_episode
from sparring.inspector.filters import EpisodeFilter
from sparring.inspector.source import feed
from sparring.inspector.store import EpisodeStore
from sparring.inspector.tail import tail
from sparring.launcher import Launcher
from sparring.messages import DeadLetter, Episode, Metric, Sample, Task

SMALL_PAYLOAD = 64 * 1024
"""The own server's max_payload: small, so a message 'just under the limit' is quick to send."""


@pytest.fixture
async def raw(nats_url: str) -> AsyncIterator[Any]:
    """A plain nats-py connection to the session's server."""
    nc = await nats.connect(nats_url)
    yield nc
    await nc.close()


@pytest.fixture
async def small_server(tmp_path: Path) -> AsyncIterator[EmbeddedServer]:
    """A server of our own whose max_payload is SMALL_PAYLOAD."""
    server = EmbeddedServer(tmp_path / "nats", max_payload_bytes=SMALL_PAYLOAD)
    await server.start()
    yield server
    await server.stop()


def _poisoned(run: str) -> dict[str, bytes]:
    """Well-formed Samples but for one non-finite number, keyed by the reason's words."""
    base = group("g", [1.0, 0.0], run=run)[0].model_dump()
    nan_logprob = struct.pack("<2f", -0.5, math.nan)
    return {
        "reward is nan": msgpack.packb({**base, "reward": math.nan}),
        "reward is inf": msgpack.packb({**base, "reward": math.inf}),
        "reward is -inf": msgpack.packb({**base, "reward": -math.inf}),
        "logprobs[1] is nan": msgpack.packb({**base, "logprobs": nan_logprob}),
        "logprobs[0] is -inf": msgpack.packb(
            {**base, "logprobs": struct.pack("<2f", -math.inf, -1.0)}
        ),
    }


async def test_nan_and_inf_rewards_and_logprobs_are_dead_lettered_with_the_reason_and_counted(
    bus: Bus, raw: Any
) -> None:
    subject = bus.names.subject_of(group("g", [1.0], run=bus.run)[0])
    poisoned = _poisoned(bus.run)
    for data in poisoned.values():
        await raw.jetstream().publish(subject, data)
    good = group("ok", [1.0, 0.0], run=bus.run)
    await bus.publish_many(good)

    consumer = await bus.consumer(Sample, durable="trainer")
    got = [d.message for d in await consumer.fetch(50, timeout=1.0)]
    assert got == good
    assert consumer.dead_lettered == len(poisoned)
    letters = await bus.dead_letters()
    assert [x.data for x in letters] == list(poisoned.values())
    for words, letter in zip(poisoned, letters, strict=True):
        assert words in letter.error and "finite" in letter.error, letter.error
        assert not letter.truncated and letter.original_size == len(letter.data)


async def test_huge_rewards_positive_logprobs_and_masks_beyond_one_are_dead_lettered(
    bus: Bus, raw: Any
) -> None:
    base = group("g", [1.0, 0.0], run=bus.run)[0].model_dump()
    hostile = {
        "reward is 3e+38": msgpack.packb({**base, "reward": 3e38}),
        "reward is -2000000.0": msgpack.packb({**base, "reward": -2e6}),
        "logprobs[1] is 0.5": msgpack.packb({**base, "logprobs": struct.pack("<2f", -0.5, 0.5)}),
        "loss_mask[0] is 7": msgpack.packb({**base, "loss_mask": bytes([7, 1])}),
    }
    subject = bus.names.subject_of(group("g", [1.0], run=bus.run)[0])
    for data in hostile.values():
        await raw.jetstream().publish(subject, data)
    good = group("ok", [1e6, -1e6], run=bus.run)  # the bound itself is allowed
    await bus.publish_many(good)

    consumer = await bus.consumer(Sample, durable="trainer")
    got = [d.message for d in await consumer.fetch(50, timeout=1.0)]
    assert got == good
    letters = await bus.dead_letters()
    assert len(letters) == len(hostile)
    for words, letter in zip(hostile, letters, strict=True):
        assert words in letter.error, letter.error


async def test_an_empty_message_with_a_forged_status_header_is_dead_lettered_and_the_floor_moves(
    bus: Bus, raw: Any
) -> None:
    subject = bus.names.subject_of(group("g", [1.0], run=bus.run)[0])
    await raw.jetstream().publish(subject, b"", headers={"Status": "408"})
    good = group("ok", [1.0, 0.0], run=bus.run)
    await bus.publish_many(good)

    consumer = await bus.consumer(Sample, durable="trainer")
    got = await consumer.fetch(50, timeout=1.0)
    assert [d.message for d in got] == good
    await consumer.ack_many(got)
    (letter,) = await bus.dead_letters()
    assert "Status: 408" in letter.error and "forged" in letter.error
    assert letter.data == b"" and letter.subject == subject
    assert consumer.dead_lettered == 1

    js = raw.jetstream()
    for _ in range(50):  # acks are fire-and-forget: give the server a moment
        info = await js.consumer_info(bus.names.stream("samples"), "trainer")
        if info.ack_floor.stream_seq == 3:
            break
        await asyncio.sleep(0.05)
    assert info.ack_floor.stream_seq == 3  # past the forged message (seq 1) and both samples
    assert info.num_ack_pending == 0 and info.num_redelivered == 0


async def test_real_status_replies_still_end_a_fetch_that_finds_nothing(bus: Bus) -> None:
    # The forged-status fix must not make the consumer wait out every empty pull.
    consumer = await bus.consumer(Sample, durable="trainer")
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert await consumer.fetch(10, timeout=0.5) == []
    assert loop.time() - t0 < 1.0
    assert consumer.dead_lettered == 0 and await bus.dead_letters() == []


def _just_under(limit: int) -> bytes:
    """Unreadable bytes just under the server's max_payload (the client accepts them)."""
    return b"\xc1" + bytes(range(256)) * ((limit - 64) // 256)


async def _raw_publish(url: str, subject: str, data: bytes) -> None:
    nc = await nats.connect(url)
    try:
        assert len(data) <= nc.max_payload
        await nc.jetstream().publish(subject, data)
    finally:
        await nc.close()


def _check_truncated(letter: DeadLetter, original: bytes) -> None:
    assert letter.truncated and letter.original_size == len(original)
    assert 0 < len(letter.data) < len(original) and original.startswith(letter.data)


async def test_a_message_just_under_max_payload_on_the_sample_subject_is_dead_lettered_truncated(
    small_server: EmbeddedServer, run_name: str
) -> None:
    bus = await Bus.connect(small_server.url, run=run_name, name="test")
    try:
        big = _just_under(SMALL_PAYLOAD)
        subject = bus.names.subject_of(group("g", [1.0], run=run_name)[0])
        await _raw_publish(small_server.url, subject, big)
        good = group("ok", [1.0, 0.0], run=run_name)
        await bus.publish_many(good)
        consumer = await bus.consumer(Sample, durable="trainer")
        got = await consumer.fetch(10, timeout=1.0)  # raised MaxPayloadError before the fix
        assert [d.message for d in got] == good
        (letter,) = await bus.dead_letters()
        _check_truncated(letter, big)
        assert "not msgpack" in letter.error
    finally:
        await bus.close()


async def test_the_inspectors_feed_survives_a_message_just_under_max_payload_on_episodes(
    small_server: EmbeddedServer, run_name: str
) -> None:
    bus = await Bus.connect(small_server.url, run=run_name, name="test")
    store = EpisodeStore()
    following = asyncio.create_task(feed(store, small_server.url, run_name))
    try:
        big = _just_under(SMALL_PAYLOAD)
        episode = Episode(run=run_name, game="arith", task=Task(run=run_name, game="arith"))
        await _raw_publish(small_server.url, bus.names.subject_of(episode), big)
        await bus.publish(episode)
        await until(lambda: len(store) == 1)
        await asyncio.sleep(1.5)  # it used to re-read the whole stream every 0.5 s from here
        assert store.error is None and not following.done()
        later = Episode(run=run_name, game="arith", task=Task(run=run_name, game="arith"))
        await bus.publish(later)
        await until(lambda: len(store) == 2)  # still following live
        (letter,) = await bus.dead_letters()
        _check_truncated(letter, big)
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
        await bus.close()


async def test_sparring_tail_prints_the_episodes_around_a_message_just_under_max_payload(
    small_server: EmbeddedServer, run_name: str
) -> None:
    bus = await Bus.connect(small_server.url, run=run_name, name="test")
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None, highlight=False)
    printing = asyncio.create_task(tail(small_server.url, run_name, EpisodeFilter(), console))
    try:
        before = example_episode(run_name, seed="1111", solved=[True])
        await bus.publish(before)
        await _raw_publish(
            small_server.url, bus.names.subject_of(before), _just_under(SMALL_PAYLOAD)
        )
        await bus.publish(example_episode(run_name, seed="2222", solved=[False]))
        # Before the fix the follower failed on the bad message every time, never reaching this.
        await until(lambda: "seed=2222" in out.getvalue())
        await asyncio.sleep(1.0)
        assert out.getvalue().count("seed=1111") == 1 and not printing.done()
    finally:
        printing.cancel()
        await asyncio.gather(printing, return_exceptions=True)
        await bus.close()


async def test_the_launchers_metrics_collector_survives_a_message_just_under_max_payload(
    small_server: EmbeddedServer, run_name: str, tmp_path: Path
) -> None:
    bus = await Bus.connect(small_server.url, run=run_name, name="launcher")
    launcher = Launcher(RunConfig(run=run_name), tmp_path, small_server.url)
    collecting = asyncio.create_task(launcher._collect(bus))
    try:
        big = _just_under(SMALL_PAYLOAD)
        first = Metric(run=run_name, source="trainer", step=1, values={"loss": 0.5})
        await _raw_publish(small_server.url, bus.names.subject_of(first), big)
        await bus.publish(first)
        second = Metric(run=run_name, source="trainer", step=2, values={"loss": 0.25})
        await bus.publish(second)
        path = tmp_path / "metrics.jsonl"
        await until(lambda: path.exists() and len(path.read_text().splitlines()) == 2)
        assert not collecting.done()  # it died silently here before the fix
        written = [Metric.model_validate_json(x) for x in path.read_text().splitlines()]
        assert written == [first, second]
        (letter,) = await bus.dead_letters()
        _check_truncated(letter, big)
    finally:
        collecting.cancel()
        await asyncio.gather(collecting, return_exceptions=True)
        await bus.close()


async def test_a_dead_letter_that_cannot_be_stored_leaves_the_message_for_later_not_a_crash(
    nats_url: str, run_name: str, raw: Any
) -> None:
    # The dead letter stream is gone (deleted by an operator): the letter is refused, the
    # consumer lives on, and the bad message is not terminated, so it is tried again later.
    bus = await Bus.connect(nats_url, run=run_name, config=BusConfig(ack_wait_s=1.0), name="t")
    try:
        await raw.jetstream().delete_stream(bus.names.stream("dead"))
        subject = bus.names.subject_of(group("g", [1.0], run=run_name)[0])
        await raw.jetstream().publish(subject, b"garbage")
        consumer = await bus.consumer(Sample, durable="trainer")
        assert await consumer.fetch(10, timeout=0.5) == []
        assert consumer.dead_lettered == 0
        await asyncio.sleep(1.2)
        assert await consumer.fetch(10, timeout=0.5) == []  # delivered again, refused again
        info = await raw.jetstream().consumer_info(bus.names.stream("samples"), "trainer")
        assert info.num_redelivered >= 1 and info.ack_floor.stream_seq == 0
    finally:
        await bus.close()


async def test_the_metrics_collector_follows_again_after_its_subscription_fails(
    nats_url: str, run_name: str, raw: Any, tmp_path: Path
) -> None:
    # The metrics stream is missing when the collector starts (deleted by hand): following it
    # fails, and is shown; once the stream is back the collector follows again and writes.
    bus = await Bus.connect(nats_url, run=run_name, name="launcher")
    await raw.jetstream().delete_stream(bus.names.stream("metrics"))
    launcher = Launcher(RunConfig(run=run_name), tmp_path, nats_url)
    out = io.StringIO()
    launcher.console = Console(file=out, width=200, color_system=None)
    collecting = asyncio.create_task(launcher._collect(bus))
    try:
        await until(lambda: "metrics: following again after" in out.getvalue())
        again = await Bus.connect(nats_url, run=run_name, name="setup")  # recreates the stream
        first = Metric(run=run_name, source="trainer", step=1, values={"loss": 0.5})
        await again.publish(first)
        await again.close()
        path = tmp_path / "metrics.jsonl"
        await until(lambda: path.exists() and path.read_text().count("\n") == 1)
        assert [Metric.model_validate_json(x) for x in path.read_text().splitlines()] == [first]
        assert not collecting.done()
    finally:
        collecting.cancel()
        await asyncio.gather(collecting, return_exceptions=True)
        await bus.close()
