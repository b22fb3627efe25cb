"""The dynamic batcher merges concurrent calls, survives failing batches and impatient callers."""

from __future__ import annotations

import asyncio

import pytest

from sparring.policy._batching import DynamicBatcher


class Doubler:
    """A batch function that records the batches it saw; a negative item fails its batch."""

    def __init__(self) -> None:
        self.seen: list[list[int]] = []

    async def __call__(self, items: list[int]) -> list[int]:
        self.seen.append(items)
        await asyncio.sleep(0.01)
        if any(i < 0 for i in items):
            raise ValueError("negative item")
        return [2 * i for i in items]


async def test_concurrent_submissions_are_grouped_by_key_and_answered_in_order() -> None:
    run = Doubler()
    batcher = DynamicBatcher(run, key=lambda i: i % 2, max_batch=4)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
    assert results == [2 * i for i in range(10)]
    assert all(len(b) <= 4 and len({i % 2 for i in b}) == 1 for b in run.seen)
    assert batcher.batches == len(run.seen) < 10
    await batcher.aclose()


async def test_a_failing_batch_fails_its_callers_and_the_next_batch_still_runs() -> None:
    run = Doubler()
    batcher = DynamicBatcher(run, key=lambda i: i < 0)
    bad, good = await asyncio.gather(batcher.submit(-1), batcher.submit(3), return_exceptions=True)
    assert isinstance(bad, ValueError) and good == 6
    assert await batcher.submit(5) == 10
    await batcher.aclose()


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    run = Doubler()
    batcher = DynamicBatcher(run, key=lambda i: 0, wait_s=0.05)
    impatient = asyncio.create_task(batcher.submit(1))
    patient = asyncio.create_task(batcher.submit(2))
    await asyncio.sleep(0.01)
    impatient.cancel()
    assert await patient == 4
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert run.seen == [[2]]
    await batcher.aclose()
