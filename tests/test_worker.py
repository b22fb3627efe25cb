"""The worker fails loudly: a background task that raises ends `Worker.run` with the error and
publishes a `failed` metric, instead of playing on quietly with old weights. Real nats-server,
the arith game, a scripted policy (the intelligence is not the point here)."""

from __future__ import annotations

import asyncio

import pytest

from sparring.bus import Bus
from sparring.config import WorkerConfig
from sparring.graphs import load_game
from sparring.messages import Metric, PolicyVersion
from sparring.policy import ScriptedPolicy
from sparring.worker import Worker, load_announced


def _worker(bus: Bus, policy: ScriptedPolicy, reload: object) -> Worker:
    game = load_game("arith")
    config = WorkerConfig(concurrency=2)
    return Worker(
        bus,
        game,
        game.config_model(),
        policy,
        config,
        "worker-0",
        bus.run,
        reload,  # type: ignore[arg-type]
    )


async def test_a_reload_that_raises_ends_the_worker_with_the_error_and_a_failed_metric(
    bus: Bus,
) -> None:
    async def reload(pv: PolicyVersion) -> None:
        raise RuntimeError("weights are corrupt")

    metrics = bus.follow(Metric, from_start=True)
    worker = _worker(bus, ScriptedPolicy(lambda m: "1"), reload)
    await bus.set_policy(PolicyVersion(run=bus.run, version=1, step=1, weights="w1"))
    with pytest.raises(RuntimeError, match="weights are corrupt"):
        await asyncio.wait_for(worker.run(asyncio.Event()), 30)
    metric = await asyncio.wait_for(anext(metrics), 5)
    while metric.values.get("failed") != 1.0:
        metric = await asyncio.wait_for(anext(metrics), 5)
    assert metric.source == "worker-0"
    await metrics.aclose()  # type: ignore[attr-defined]


async def test_a_good_reload_loads_the_announced_weights_and_keeps_playing(bus: Bus) -> None:
    policy = ScriptedPolicy(lambda m: "1")

    async def reload(pv: PolicyVersion) -> None:
        await load_announced(bus, policy, pv)

    await bus.put_object("w1", b"weights")
    await bus.set_policy(PolicyVersion(run=bus.run, version=1, step=1, weights="w1"))
    stop = asyncio.Event()
    running = asyncio.create_task(_worker(bus, policy, reload).run(stop))
    for _ in range(100):
        if policy.loaded:
            break
        await asyncio.sleep(0.1)
    assert not running.done()
    stop.set()
    await asyncio.wait_for(running, 30)
    assert policy.loaded == [(1, "full")]
