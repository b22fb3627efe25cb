"""Bad messages on a real stream become dead letters with their reason; consumers carry on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgpack
import nats
import orjson
import pytest

from sparring.bus import Bus
from sparring.bus_demo import realistic_sample
from sparring.messages import Episode, Sample, Task


@pytest.fixture
async def raw_js(nats_url: str) -> AsyncIterator[object]:
    """A plain nats-py JetStream context, to put bytes on a stream that the bus would refuse."""
    nc = await nats.connect(nats_url)
    yield nc.jetstream()
    await nc.close()


def bad_payloads(run: str) -> dict[str, bytes]:
    """Each kind of unreadable payload, keyed by a piece of the reason it must be given."""
    good = realistic_sample(run, tokens=4)
    dumped = good.model_dump()
    episode = Episode(run=run, game="arith", task=Task(run=run, game="arith"))
    return {
        "not msgpack": b"\xc1 certainly not msgpack",
        "not a map": msgpack.packb([1, 2, 3]),
        "Field required": msgpack.packb({"kind": "sample", "run": run}),
        "JSON": orjson.dumps(good.model_dump(mode="json")),
        "unknown message kind 'banana'": msgpack.packb({**dumped, "kind": "banana"}),
        "schema_version 99": msgpack.packb({**dumped, "schema_version": 99}),
        "only 'sample' belongs": msgpack.packb(episode.model_dump()),
    }


async def test_each_kind_of_bad_message_is_dead_lettered_with_its_reason(
    bus: Bus, raw_js: object
) -> None:
    subject = bus.names.subject_of(realistic_sample(bus.run, tokens=4))
    bad = bad_payloads(bus.run)
    for data in bad.values():
        await raw_js.publish(subject, data)  # type: ignore[attr-defined]
    good = realistic_sample(bus.run, tokens=4)
    await bus.publish(good)

    consumer = await bus.consumer(Sample, durable="trainer")
    got = [d.message for d in await consumer.fetch(100, timeout=1.0)]
    assert got == [good]

    letters = await bus.dead_letters()
    assert [x.data for x in letters] == list(bad.values())
    for reason_part, letter in zip(bad, letters, strict=True):
        want = "not msgpack" if reason_part == "JSON" else reason_part
        assert want in letter.error, (reason_part, letter.error)
        assert letter.subject == subject
        assert letter.consumer == "trainer"


async def test_a_dead_lettered_message_is_not_delivered_again(bus: Bus, raw_js: object) -> None:
    subject = bus.names.subject_of(realistic_sample(bus.run, tokens=4))
    await raw_js.publish(subject, b"garbage")  # type: ignore[attr-defined]
    consumer = await bus.consumer(Sample, durable="trainer")
    assert await consumer.fetch(10, timeout=0.5) == []
    await asyncio.sleep(1.2)  # past ack_wait: a message merely left un-acked would be back
    assert await consumer.fetch(10, timeout=0.5) == []
    assert len(await bus.dead_letters()) == 1


async def test_follow_skips_a_bad_message_and_dead_letters_it_once(
    bus: Bus, raw_js: object
) -> None:
    episode = Episode(run=bus.run, game="arith", task=Task(run=bus.run, game="arith"))
    subject = bus.names.subject_of(episode)
    await raw_js.publish(subject, b"garbage")  # type: ignore[attr-defined]
    await bus.publish(episode)
    for _ in range(2):  # two followers see the same bad message
        stream = bus.follow(Episode)
        assert await asyncio.wait_for(anext(stream), 3.0) == episode
        await stream.aclose()  # type: ignore[attr-defined]
    (letter,) = await bus.dead_letters()
    assert letter.consumer == "follow"
    assert letter.data == b"garbage"
