"""The streaming loop against a real nats-server: publish, drop, count, and the weights it ships."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import torch
from test_trainer_support import build_model_dir, group, ledger_ids, make_sample, until
from transformers import AutoModelForCausalLM

from sparring.bus import Bus
from sparring.credit import Estimator
from sparring.messages import Role, Sample
from sparring.trainer import Trainer, TrainerConfig, load_weights_bytes
from sparring.trainer.model import trained_state


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(2)
    return build_model_dir(tmp_path_factory.mktemp("tiny"))


def _samples(run: str, gid: str, rewards: list[float], **kw: object) -> list[Sample]:
    return group(gid, rewards, run=run, **kw)


async def test_after_a_step_the_published_weights_load_into_a_fresh_model_and_equal_the_trainers(
    bus: Bus, model_dir: Path, tmp_path: Path
) -> None:
    config = TrainerConfig(device="cpu", batch_groups=1, lr=1e-3)
    trainer = Trainer(config, model_dir, tmp_path, bus)
    stop = asyncio.Event()
    task = asyncio.create_task(trainer.run(stop))
    await bus.publish_many(_samples(bus.run, "g1", [1.0, 0.0, 0.5]))

    async def version() -> int:
        pv = await bus.get_policy()  # once its bus copy is stored (the file is announced first)
        return pv.version if pv is not None and pv.weights else 0

    for _ in range(400):
        if await version() >= 1:
            break
        await asyncio.sleep(0.05)
    pv = await bus.get_policy()
    assert pv is not None and pv.step == 1 and pv.format == "full"
    fresh = AutoModelForCausalLM.from_pretrained(model_dir)
    load_weights_bytes(fresh, await bus.get_object(pv.weights))
    stop.set()
    state = await task
    assert state.step == 1
    original = AutoModelForCausalLM.from_pretrained(model_dir).state_dict()
    trained = trained_state(trainer.model)
    for name, tensor in fresh.state_dict().items():
        assert torch.equal(tensor, trained[name]), name
    assert any(not torch.equal(original[k], trained[k]) for k in original)  # it did learn
    metrics = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert metrics[0]["step"] == 1 and metrics[0]["samples"] == 3
    for key in ("loss", "kl", "entropy", "clip_frac", "staleness_max", "tokens_per_s"):
        assert key in metrics[0]
    assert metrics[0]["reward/solver"] == pytest.approx(0.5)
    assert metrics[0]["signal_frac"] == 1.0 and metrics[0]["staleness_max"] == 0


PROPOSER_RAE: dict[str, Estimator] = {"proposer": "rae"}  # what arith declares for the proposer


async def test_stale_all_equal_unrewarded_invalid_and_incomplete_samples_are_dropped_and_counted(
    bus: Bus, model_dir: Path, tmp_path: Path
) -> None:
    config = TrainerConfig(
        device="cpu", batch_groups=1, max_staleness=0, group_timeout_s=0.6, checkpoint_every=1
    )
    trainer = Trainer(config, model_dir, tmp_path, bus)
    stop = asyncio.Event()
    task = asyncio.create_task(trainer.run(stop))
    first = _samples(bus.run, "first", [1.0, 0.0])
    await bus.publish_many(first)
    await until(lambda: trainer.state.version == 1)  # step 1 published version 1

    stale = _samples(bus.run, "stale", [1.0, 0.0], version=0)  # 1 behind, max_staleness 0
    fresh = _samples(bus.run, "fresh", [0.0, 1.0], version=1)
    equal = _samples(bus.run, "equal", [1.0, 1.0], version=1)
    unrewarded = [make_sample("u", None, run=bus.run, version=1)]
    invalid = [make_sample("x", 1.0, run=bus.run, version=1, completion=[5, 10_000])]
    incomplete = [make_sample("half", 1.0, group_size=3, run=bus.run, version=1)]
    await bus.publish_many(stale + equal + unrewarded + invalid + incomplete)
    await bus.publish_many(fresh)
    await until(lambda: trainer.state.step == 2 and trainer.totals.get("dropped_incomplete") == 1)
    stop.set()
    await task

    totals = trainer.totals
    assert totals["dropped_stale"] == 2
    assert totals["skipped_all_equal"] == 1
    assert totals["dropped_unrewarded"] == 1
    assert totals["dropped_invalid"] == 1  # a token id past the vocabulary never reaches torch
    assert totals["dropped_incomplete_samples"] == 1
    # ...and per role, in samples: why the solver is (not) learning
    assert totals["trained/solver"] == 4 and totals["skipped_all_equal/solver"] == 2
    assert totals["dropped_stale/solver"] == 2 and totals["dropped_incomplete/solver"] == 1
    assert sorted(ledger_ids(tmp_path)) == sorted(s.id for s in first + fresh)
    consumer = await bus.consumer(Sample, durable="check")
    assert len(await consumer.fetch(100, timeout=0.5)) == 11  # all stored; 'trainer' acked all


async def test_a_proposer_group_of_one_trains_against_its_rae_baseline(
    bus: Bus, model_dir: Path, tmp_path: Path
) -> None:
    config = TrainerConfig(
        device="cpu", batch_groups=2, min_samples=2, publish_every=100, estimators=PROPOSER_RAE
    )
    trainer = Trainer(config, model_dir, tmp_path, bus)
    stop = asyncio.Event()
    task = asyncio.create_task(trainer.run(stop))
    proposals = [
        make_sample(f"p{i}", r, role=Role.PROPOSER, run=bus.run) for i, r in enumerate([1.0, 0.0])
    ]
    await bus.publish_many(proposals)
    await until(lambda: trainer.state.step == 1)
    stop.set()
    state = await task
    # b: 0 -> 0.05 after r=1 (decay 0.95), then 0.95 * 0.05 = 0.0475 after r=0
    assert state.rae["arith/proposer"] == pytest.approx(0.0475)
    assert ledger_ids(tmp_path) == [s.id for s in proposals]
    assert state.version == 1  # the stop published the last step's weights


async def test_a_resumed_trainer_restores_the_rae_baselines_instead_of_rewarming_them(
    bus: Bus, model_dir: Path, tmp_path: Path
) -> None:
    config = TrainerConfig(
        device="cpu", batch_groups=2, min_samples=2, publish_every=100, estimators=PROPOSER_RAE
    )
    first = Trainer(config, model_dir, tmp_path, bus)
    stop = asyncio.Event()
    task = asyncio.create_task(first.run(stop))
    await bus.publish_many(
        [make_sample(f"p{i}", 1.0, role=Role.PROPOSER, run=bus.run) for i in range(2)]
    )
    await until(lambda: first.state.step == 1)
    stop.set()
    saved = (await task).rae["arith/proposer"]
    assert saved == pytest.approx(1 - 0.95**2)  # two rewards of 1 from b = 0

    second = Trainer(config, model_dir, tmp_path, bus)
    await second.start()
    # The EMA is where the first trainer left it: a reward of 1 is now worth 1 - b, not 1.
    assert second.state.rae["arith/proposer"] == pytest.approx(saved)
    from sparring.trainer.advantages import estimate

    [advantage] = estimate([[make_sample("next", 1.0, role=Role.PROPOSER)]], config, second._rae)
    assert advantage == pytest.approx([1 - saved])


async def test_a_singleton_under_a_group_relative_estimator_is_counted_as_such(
    bus: Bus, model_dir: Path, tmp_path: Path
) -> None:
    config = TrainerConfig(device="cpu", batch_groups=1, publish_every=100)  # grpo for all
    trainer = Trainer(config, model_dir, tmp_path, bus)
    stop = asyncio.Event()
    task = asyncio.create_task(trainer.run(stop))
    await bus.publish_many([make_sample("alone", 1.0, role="player_0", run=bus.run)])
    await until(lambda: trainer.totals.get("skipped_singleton/player_0") == 1)
    stop.set()
    await task
    assert trainer.state.step == 0 and "trained/player_0" not in trainer.totals


async def test_groups_already_too_stale_do_not_count_toward_a_batch(
    bus: Bus, model_dir: Path, tmp_path: Path
) -> None:
    config = TrainerConfig(device="cpu", batch_groups=2, max_staleness=0)
    trainer = Trainer(config, model_dir, tmp_path, bus)
    stop = asyncio.Event()
    task = asyncio.create_task(trainer.run(stop))
    await bus.publish_many(_samples(bus.run, "a", [1.0, 0.0]) + _samples(bus.run, "b", [0.0, 1.0]))
    await until(lambda: trainer.state.version == 1)
    old = _samples(bus.run, "old", [1.0, 0.0], version=0)  # 1 behind at v1: too stale
    fresh = _samples(bus.run, "fresh", [0.0, 1.0], version=1)
    await bus.publish_many(old + fresh)
    await until(lambda: trainer.totals.get("dropped_stale") == 2)
    await asyncio.sleep(0.3)
    assert trainer.state.step == 1  # one fresh group waits for a second: no step on leftovers
    later = _samples(bus.run, "later", [1.0, 0.0], version=1)
    await bus.publish_many(later)
    await until(lambda: trainer.state.step == 2)
    stop.set()
    await task
    last = json.loads((tmp_path / "trained.jsonl").read_text().splitlines()[-1])
    assert sorted(last["sample_ids"]) == sorted(s.id for s in fresh + later)


async def test_singleton_groups_count_as_samples_not_as_groups_toward_a_batch(
    bus: Bus, model_dir: Path, tmp_path: Path
) -> None:
    config = TrainerConfig(
        device="cpu", batch_groups=1, min_samples=8, publish_every=100, estimators=PROPOSER_RAE
    )
    trainer = Trainer(config, model_dir, tmp_path, bus)
    stop = asyncio.Event()
    task = asyncio.create_task(trainer.run(stop))
    proposals = [
        make_sample(f"p{i}", float(i % 2), role=Role.PROPOSER, run=bus.run) for i in range(3)
    ]
    await bus.publish_many(proposals)
    await asyncio.sleep(1.0)
    assert trainer.state.step == 0  # three singletons are neither a group nor 8 samples
    group = _samples(bus.run, "g", [1.0, 0.0])
    await bus.publish_many(group)
    await until(lambda: trainer.state.step == 1)
    stop.set()
    await task
    trained = set(ledger_ids(tmp_path))
    # The group and the proposals with signal went into the one step (the first proposal, r=0
    # against a baseline of 0, carries none and is skipped).
    assert {s.id for s in group} <= trained <= {s.id for s in proposals + group}
    assert len(trained) == 4
