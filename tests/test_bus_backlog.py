"""Back-pressure and clean-up helpers: a durable's backlog, and deleting old weights."""

from __future__ import annotations

import asyncio

import pytest

from sparring.bus import Bus, ObjectNotFoundError
from sparring.bus_demo import sample_batch
from sparring.messages import Sample


async def test_the_backlog_counts_undelivered_and_unacked_samples(bus: Bus) -> None:
    assert await bus.backlog(Sample, "trainer") is None  # no such consumer yet
    consumer = await bus.consumer(Sample, durable="trainer")
    await bus.publish_many(sample_batch(bus.run, 10, tokens=16))
    assert await bus.backlog(Sample, "trainer") == 10
    got = await consumer.fetch(4, timeout=1.0)
    assert len(got) == 4
    assert await bus.backlog(Sample, "trainer") == 10  # fetched but held: still not done
    for d in got:
        await d.ack()
    # Acks are fire-and-forget: the server's count follows a moment later.
    for _ in range(50):
        if await bus.backlog(Sample, "trainer") == 6:
            break
        await asyncio.sleep(0.05)
    assert await bus.backlog(Sample, "trainer") == 6


async def test_deleted_weights_are_gone_and_deleting_twice_says_so(bus: Bus) -> None:
    await bus.put_object("policy-v1", b"x" * 1000)
    assert await bus.delete_object("policy-v1") is True
    with pytest.raises(ObjectNotFoundError):
        await bus.get_object("policy-v1")
    assert await bus.delete_object("policy-v1") is False
