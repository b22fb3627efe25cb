"""The worker fails loudly: a background task that raises ends `Worker.run` with the error and
publishes a `failed` metric, instead of playing on quietly with old weights. Real nats-server,
the arith game, a scripted policy (the intelligence is not the point here)."""

from __future__ import annotations

import asyncio
import itertools

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


async def test_a_role_grouped_across_episodes_is_published_in_groups_spanning_them(
    bus: Bus,
) -> None:
    from pathlib import Path

    from sparring.credit import RoleSpec
    from sparring.graphs import Game
    from sparring.messages import Sample

    reverse = load_game(str(Path(__file__).parents[1] / "examples" / "reverse" / "game.py"))
    spanning = Game(
        name="reverse",
        build=reverse.build,
        score=reverse.score,
        tasks=lambda rng, cfg: {"n": 3},
        roles={**reverse.roles, "solver": RoleSpec(grouping="episodes", span=2)},
    )

    def script(messages: list[object]) -> str:
        text = messages[-1].content  # type: ignore[attr-defined]
        return "123" if text.startswith("write") else str(len(text) % 2)

    worker = Worker(
        bus,
        spanning,
        spanning.config_model(),
        ScriptedPolicy(script),  # type: ignore[arg-type]
        WorkerConfig(concurrency=1),
        "worker-0",
        bus.run,
        lambda pv: asyncio.sleep(0),  # type: ignore[arg-type]
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.wait_for(running, 30)
    consumer = await bus.consumer(Sample, durable="spans")
    solvers = [
        d.message for d in await consumer.fetch(1000, timeout=1) if d.message.role == "solver"
    ]
    groups: dict[str, list[Sample]] = {}
    for s in solvers:
        groups.setdefault(s.group_id, []).append(s)
    assert len(groups) >= 2
    for members in groups.values():
        assert {s.group_size for s in members} == {len(members)}  # every group is complete
        assert len({s.episode_id for s in members}) == len(members) // 4  # 4 solvers an episode
    # All but the group flushed at stop span exactly two episodes.
    assert sum(len({s.episode_id for s in m}) == 2 for m in groups.values()) >= len(groups) - 1


async def test_a_role_bound_to_its_own_policy_is_played_and_recorded_but_never_trained(
    bus: Bus,
) -> None:
    from sparring.messages import Episode, Sample
    from sparring.roles.proposer import backward_chain
    from sparring.tools import scratchpad

    def propose(messages: list[object]) -> str:  # "target T ops K" -> T+0+...+0, worked
        _, target, _, ops = messages[-1].content.split()  # type: ignore[attr-defined]
        return backward_chain(target + "+0" * int(ops))

    calls = itertools.count()

    def solve(messages: list[object]) -> str:  # right every other time: rewards differ
        right = scratchpad(messages[-1].content.removeprefix("compute "))  # type: ignore[attr-defined]
        return right if next(calls) % 2 else right + "9"

    shared, frozen = ScriptedPolicy(solve), ScriptedPolicy(propose)
    game = load_game("arith")
    worker = Worker(
        bus, game, game.config_model(), shared, WorkerConfig(concurrency=1), "worker-0",
        bus.run, lambda pv: asyncio.sleep(0), overrides={"proposer": frozen},  # type: ignore[arg-type]
    )  # fmt: skip
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.wait_for(running, 30)
    samples = [d.message for d in await (await bus.consumer(Sample, durable="t")).fetch(500, 1)]
    assert samples and {s.role for s in samples} == {"solver"}
    episodes = bus.follow(Episode, from_start=True)
    episode = await asyncio.wait_for(anext(episodes), 5)
    await episodes.aclose()  # type: ignore[attr-defined]
    proposer = [t for t in episode.turns if t.role == "proposer"]
    assert proposer and proposer[0].sample_id is None
    assert proposer[0].completion == propose(proposer[0].messages)
    assert all(t.sample_id for t in episode.turns if t.role == "solver")
