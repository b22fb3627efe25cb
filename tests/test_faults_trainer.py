"""The trainer never trains what would poison or stall it (issue 11's faults): a non-finite step
is skipped with weights and optimizer untouched, over-long and overflowing samples are dropped
and counted, and an unreadable sample just under max_payload is a dead letter, not a crash.
Real torch with a tiny model, real nats-servers.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from pathlib import Path

import nats
import pytest
import torch
from test_trainer_support import build_model_dir, group, ledger_ids, make_sample, until

from sparring import messages
from sparring.bus import Bus, EmbeddedServer
from sparring.messages import Role, Sample
from sparring.trainer import Trainer, TrainerConfig
from sparring.trainer.batch import collate
from sparring.trainer.model import build_optimizer, load_trainable
from sparring.trainer.step import train_step


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(2)
    return build_model_dir(tmp_path_factory.mktemp("tiny"))  # max_position_embeddings 128


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_a_step_on_a_nan_logprob_changes_no_weight_and_no_optimizer_state(model_dir: Path) -> None:
    config = TrainerConfig(device="cpu", lr=1e-2)
    model = load_trainable(model_dir, config)
    optimizer = build_optimizer(model, config)
    samples = group("g", [1.0, 0.0])
    # A good step first, so AdamW has moments that a poisoned step could corrupt.
    assert train_step(model, optimizer, collate(samples, [1.0, -1.0]), config).applied
    before, moments = _weights(model), copy.deepcopy(optimizer.state_dict())

    batch = collate(samples, [1.0, -1.0])
    poisoned = batch.behaviour_logprobs.clone()
    poisoned[0, -1] = float("nan")  # one element of one row
    stats = train_step(
        model, optimizer, dataclasses.replace(batch, behaviour_logprobs=poisoned), config
    )

    assert not stats.applied
    after = _weights(model)
    for name, tensor in before.items():
        assert torch.isfinite(after[name]).all(), name
        assert torch.equal(tensor, after[name]), name
    state = optimizer.state_dict()
    assert state["state"].keys() == moments["state"].keys()
    for key, old in moments["state"].items():
        for field, value in old.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(state["state"][key][field]))
    assert all(p.grad is None for p in model.parameters())  # no NaN gradient left behind

    # ...and the next good step trains as usual.
    assert train_step(model, optimizer, collate(samples, [1.0, -1.0]), config).applied
    assert any(not torch.equal(before[k], v) for k, v in _weights(model).items())


async def test_an_overflowing_step_is_skipped_counted_and_never_checkpointed_or_published(
    bus: Bus, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A finite reward of 3e38 makes a float32 loss of inf under RAE. The door refuses such a
    # reward (tests/test_faults_bus.py); opened here, the step's own guard must still hold.
    monkeypatch.setattr(messages, "MAX_ABS_REWARD", 1e39)
    config = TrainerConfig(
        device="cpu", batch_groups=1, min_samples=1, estimators={"proposer": "rae"}
    )
    trainer = Trainer(config, model_dir, tmp_path, bus)
    stop = asyncio.Event()
    task = asyncio.create_task(trainer.run(stop))
    await until(lambda: trainer.model is not None)
    before = _weights(trainer.model)
    huge = make_sample("huge", 3e38, role=Role.PROPOSER, run=bus.run)
    await bus.publish(huge)
    await until(lambda: trainer.totals.get("skipped_nonfinite") == 1)
    assert all(torch.equal(before[k], v) for k, v in _weights(trainer.model).items())
    assert trainer.state.step == 0 and not trainer.checkpoint_root.exists()
    good = group("ok", [1.0, 0.0], run=bus.run)
    await bus.publish_many(good)
    await until(lambda: trainer.state.step == 1)
    stop.set()
    state = await task

    assert state.step == 1  # the skipped step was no step
    assert trainer.totals["skipped_nonfinite/proposer"] == 1
    assert huge.id not in ledger_ids(tmp_path)
    assert sorted(ledger_ids(tmp_path)) == sorted(s.id for s in good)
    assert all(torch.isfinite(v).all() for v in _weights(trainer.model).values())
    assert any(not torch.equal(before[k], v) for k, v in _weights(trainer.model).items())
    pv = await bus.get_policy()
    assert pv is not None and pv.step == 1
    backlog = await bus.backlog(Sample, "trainer")
    assert backlog == 0  # the skipped sample was acked, not left to come back


async def test_samples_longer_than_the_context_and_overflowing_advantages_are_dropped_and_counted(
    bus: Bus, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(messages, "MAX_ABS_REWARD", 1e309)  # the door's bound, opened (see above)
    config = TrainerConfig(device="cpu", batch_groups=1, group_timeout_s=0.5)
    trainer = Trainer(config, model_dir, tmp_path, bus)
    stop = asyncio.Event()
    task = asyncio.create_task(trainer.run(stop))
    long = make_sample("long", 1.0, group_size=2, run=bus.run, completion=[8] * 126)  # 3 + 126
    fits = make_sample("long", 0.0, group_size=2, run=bus.run, completion=[8] * 125)  # 128: ok
    # Finite rewards whose mean overflows: grpo gives NaN advantages.
    overflow = group("overflow", [1e308, 1e308, -1e308], run=bus.run)
    good = group("ok", [1.0, 0.0], run=bus.run)
    await bus.publish_many([long, fits, *overflow])
    await until(lambda: trainer.totals.get("dropped_incomplete") == 1)  # long's group
    await bus.publish_many(good)
    await until(lambda: trainer.state.step == 1)
    stop.set()
    await task

    totals = trainer.totals
    assert totals["dropped_too_long"] == 1 and totals["dropped_too_long/solver"] == 1
    assert totals["dropped_nonfinite"] == 1 and totals["dropped_nonfinite/solver"] == 3
    assert sorted(ledger_ids(tmp_path)) == sorted(s.id for s in good)


async def test_a_configured_limit_below_the_models_context_drops_longer_samples(
    bus: Bus, model_dir: Path, tmp_path: Path
) -> None:
    config = TrainerConfig(device="cpu", batch_groups=1, max_sample_tokens=5)
    trainer = Trainer(config, model_dir, tmp_path, bus)
    stop = asyncio.Event()
    task = asyncio.create_task(trainer.run(stop))
    too_long = group("six", [1.0, 0.0], run=bus.run, completion=[8, 9, 10])  # 3 + 3 > 5
    good = group("five", [1.0, 0.0], run=bus.run)  # 3 + 2
    await bus.publish_many([*too_long, *good])
    await until(lambda: trainer.state.step == 1)
    stop.set()
    await task
    assert trainer.totals["dropped_too_long"] == 2
    assert sorted(ledger_ids(tmp_path)) == sorted(s.id for s in good)


async def test_the_trainer_survives_a_sample_just_under_max_payload_and_counts_its_dead_letter(
    model_dir: Path, tmp_path: Path, run_name: str
) -> None:
    limit = 64 * 1024
    async with EmbeddedServer(tmp_path / "nats", max_payload_bytes=limit) as server:
        bus = await Bus.connect(server.url, run=run_name, name="trainer")
        trainer = Trainer(TrainerConfig(device="cpu", batch_groups=1), model_dir, tmp_path, bus)
        stop = asyncio.Event()
        task = asyncio.create_task(trainer.run(stop))
        good = group("ok", [1.0, 0.0], run=run_name)
        nc = await nats.connect(server.url)
        big = b"\xc1" * (nc.max_payload - 64)
        await nc.jetstream().publish(bus.names.subject_of(good[0]), big)
        await nc.close()
        await bus.publish_many(good)
        await until(lambda: trainer.state.step == 1 or task.done())
        stop.set()
        await task  # the trainer crashed here before the fix
        assert trainer.totals["dead_lettered"] == 1
        (letter,) = await bus.dead_letters()
        assert letter.truncated and letter.original_size == len(big)
        await bus.close()
