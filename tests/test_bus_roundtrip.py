"""Typed publish and consume through a real nats-server: every kind, dedup, redelivery, follow."""

from __future__ import annotations

import asyncio
import time

import pytest

from sparring.bus import Bus, BusConfig, ConnectError, RunNameError
from sparring.bus_demo import realistic_sample
from sparring.messages import (
    ChatMessage,
    DeadLetter,
    Episode,
    Metric,
    PolicyVersion,
    Role,
    Sample,
    Task,
    Turn,
)


def a_task(run: str, game: str = "arith") -> Task:
    return Task(run=run, game=game, params={"target": 7})


def an_episode(run: str, game: str = "arith") -> Episode:
    turn = Turn(
        role=Role.SOLVER,
        node="solve",
        messages=[ChatMessage(role="user", content="2+5?")],
        completion="7",
    )
    return Episode(run=run, game=game, task=a_task(run, game), turns=[turn])


async def fetch_all(consumer: object, want: int, within: float = 5.0) -> list[object]:
    got: list[object] = []
    deadline = time.monotonic() + within
    while len(got) < want and time.monotonic() < deadline:
        for d in await consumer.fetch(256, timeout=0.5):  # type: ignore[attr-defined]
            got.append(d.message)
            await d.ack()
    return got


@pytest.mark.parametrize("kind", [Task, Sample, Episode, Metric])
async def test_every_stream_kind_comes_back_equal_from_a_durable_consumer(
    bus: Bus, kind: type
) -> None:
    run = bus.run
    msg = {
        Task: a_task(run),
        Sample: realistic_sample(run, tokens=64),
        Episode: an_episode(run),
        Metric: Metric(run=run, source="trainer", step=3, values={"loss": 0.5}),
    }[kind]
    await bus.publish(msg)
    consumer = await bus.consumer(kind, durable="reader")
    assert await fetch_all(consumer, 1) == [msg]


async def test_a_policy_version_published_is_the_current_policy(bus: Bus) -> None:
    assert await bus.get_policy() is None
    pv = PolicyVersion(run=bus.run, version=3, step=30, weights="w3")
    await bus.publish(pv)
    assert await bus.get_policy() == pv


async def test_a_published_dead_letter_is_listed_with_its_bytes(bus: Bus) -> None:
    letter = DeadLetter(subject="x", error="because", data=b"\x00\xff")
    await bus.publish(letter)
    assert await bus.dead_letters() == [letter]


async def test_a_retried_publish_is_not_stored_twice(bus: Bus) -> None:
    sample = realistic_sample(bus.run, tokens=32)
    await bus.publish(sample)
    await bus.publish(sample)
    await bus.publish_many([sample, sample])
    consumer = await bus.consumer(Sample, durable="trainer")
    assert await fetch_all(consumer, 2, within=1.5) == [sample]


async def test_publish_many_stores_every_message_in_order(bus: Bus) -> None:
    samples = [realistic_sample(bus.run, tokens=16) for _ in range(500)]
    await bus.publish_many(samples)
    consumer = await bus.consumer(Sample, durable="trainer")
    assert await fetch_all(consumer, 500) == samples


async def test_publish_many_beyond_the_in_flight_window_waits_for_acks_and_stores_all(
    nats_url: str, run_name: str
) -> None:
    bus = await Bus.connect(nats_url, run=run_name, config=BusConfig(publish_window=16))
    samples = [realistic_sample(run_name, tokens=16) for _ in range(300)]
    await bus.publish_many(samples)
    consumer = await bus.consumer(Sample, durable="trainer")
    assert await fetch_all(consumer, 300) == samples
    await bus.close()


async def test_an_unacked_message_is_delivered_again_after_ack_wait(bus: Bus) -> None:
    sample = realistic_sample(bus.run, tokens=16)
    await bus.publish(sample)
    consumer = await bus.consumer(Sample, durable="trainer")
    (first,) = await consumer.fetch(10, timeout=1.0)
    assert first.num_delivered == 1
    assert await consumer.fetch(10, timeout=0.3) == []  # held: ack_wait (1 s) not over yet
    (again,) = await consumer.fetch(10, timeout=2.0)
    assert again.message == sample
    assert again.num_delivered == 2
    await again.ack()
    assert await consumer.fetch(10, timeout=1.5) == []


async def test_a_nak_with_a_delay_redelivers_after_the_delay(bus: Bus) -> None:
    await bus.publish(realistic_sample(bus.run, tokens=8))
    consumer = await bus.consumer(Sample, durable="trainer")
    (d,) = await consumer.fetch(1, timeout=1.0)
    await d.nak(delay=0.3)
    t = time.monotonic()
    (again,) = await consumer.fetch(1, timeout=2.0)
    assert time.monotonic() - t >= 0.2
    assert again.num_delivered == 2


async def test_a_consumer_filtered_by_game_and_role_sees_only_those(bus: Bus) -> None:
    mine = realistic_sample(bus.run, tokens=8)
    other_game = Sample(**{**mine.model_dump(), "id": "a" * 32, "game": "code"})
    other_role = Sample(**{**mine.model_dump(), "id": "b" * 32, "role": Role.PROPOSER})
    await bus.publish_many([other_game, mine, other_role])
    consumer = await bus.consumer(Sample, durable="solvers", game="arith", role="solver")
    assert await fetch_all(consumer, 2, within=1.0) == [mine]


async def test_two_processes_sharing_a_durable_split_the_work(bus: Bus) -> None:
    tasks = [a_task(bus.run) for _ in range(20)]
    await bus.publish_many(tasks)
    a = await bus.consumer(Task, durable="workers")
    b = await bus.consumer(Task, durable="workers")
    got_a = [d.message for d in await a.fetch(10, timeout=1.0)]
    got_b = [d.message for d in await b.fetch(10, timeout=1.0)]
    assert sorted(t.id for t in got_a + got_b) == sorted(t.id for t in tasks)


async def test_follow_replays_the_stream_then_delivers_live_messages(bus: Bus) -> None:
    old = [an_episode(bus.run) for _ in range(3)]
    await bus.publish_many(old)
    seen: list[Episode] = []
    stream = bus.follow(Episode)
    async for ep in stream:
        seen.append(ep)
        if len(seen) == 3:
            break
    assert seen == old
    new = an_episode(bus.run)
    stream = bus.follow(Episode, from_start=False)
    nxt = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.2)
    await bus.publish(new)
    assert await asyncio.wait_for(nxt, 3.0) == new
    await stream.aclose()  # type: ignore[attr-defined]


async def test_watch_policy_yields_the_current_version_then_each_new_one(bus: Bus) -> None:
    v1 = PolicyVersion(run=bus.run, version=1, step=1, weights="w1")
    v2 = PolicyVersion(run=bus.run, version=2, step=2, weights="w2")
    await bus.set_policy(v1)
    watch = bus.watch_policy()
    assert await asyncio.wait_for(anext(watch), 3.0) == v1
    nxt = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0.1)
    await bus.set_policy(v2)
    assert await asyncio.wait_for(nxt, 3.0) == v2
    await watch.aclose()  # type: ignore[attr-defined]


async def test_objects_round_trip_with_size_and_sha256(bus: Bus) -> None:
    data = bytes(range(256)) * 10_000
    info = await bus.put_object("weights-1", data)
    assert (info.name, info.size) == ("weights-1", len(data))
    assert len(info.sha256) == 64
    assert await bus.get_object("weights-1") == data


async def test_connect_is_idempotent_for_the_same_run(nats_url: str, bus: Bus) -> None:
    await bus.publish(a_task(bus.run))
    again = await Bus.connect(nats_url, run=bus.run)
    consumer = await again.consumer(Task, durable="w")
    assert len(await fetch_all(consumer, 1)) == 1
    await again.close()


async def test_connecting_to_an_unreachable_url_is_a_clear_error_within_seconds() -> None:
    t = time.monotonic()
    with pytest.raises(ConnectError, match=r"cannot connect to NATS at nats://127\.0\.0\.1:1\b"):
        await Bus.connect("nats://127.0.0.1:1", run="r", config=BusConfig(connect_timeout_s=0.5))
    assert time.monotonic() - t < 3.0


@pytest.mark.parametrize("bad", ["my run", "a.b", "x*", "", "ü", "r" * 65])
async def test_a_bad_run_name_is_refused_with_a_suggestion(nats_url: str, bad: str) -> None:
    with pytest.raises(RunNameError, match="letters, digits"):
        await Bus.connect(nats_url, run=bad)


def test_the_public_api_is_pinned() -> None:
    import sparring.bus

    assert sorted(sparring.bus.__all__) == [
        "Bus", "BusConfig", "ConnectError", "Consumer", "Delivery", "EmbeddedServer",
        "ObjectInfo", "ObjectNotFoundError", "PublishError", "RunNameError", "ServerStartError",
        "SetupError",
    ]  # fmt: skip
