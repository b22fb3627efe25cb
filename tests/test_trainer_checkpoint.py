"""Checkpoints are atomic folders that resume training exactly where it stopped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_trainer_support import build_model_dir, make_sample

from sparring.trainer.batch import collate
from sparring.trainer.checkpoint import (
    StepIds,
    TrainerState,
    append_ledger,
    latest_checkpoint,
    load_checkpoint,
    reconcile_ledger,
    save_checkpoint,
)
from sparring.trainer.config import TrainerConfig
from sparring.trainer.model import build_optimizer, load_trainable
from sparring.trainer.step import train_step

CONFIG = TrainerConfig(device="cpu", lr=1e-3)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model_dir(tmp_path_factory.mktemp("tiny"))


def _fresh(model_dir: Path):  # type: ignore[no-untyped-def]
    model = load_trainable(model_dir, CONFIG)
    return model, build_optimizer(model, CONFIG)


BATCH = collate(
    [make_sample(completion=[8, 9, 10]), make_sample(prompt=[4], completion=[11])], [1, -1]
)


def test_a_resumed_trainer_takes_the_same_next_step_as_one_never_stopped(
    model_dir: Path, tmp_path: Path
) -> None:
    model, opt = _fresh(model_dir)
    train_step(model, opt, BATCH, CONFIG)
    state = TrainerState(step=1, version=1, rae={"arith/proposer": 0.25})
    path = save_checkpoint(tmp_path, model, opt, state, keep=2)

    resumed, resumed_opt = _fresh(model_dir)
    assert load_checkpoint(path, resumed, resumed_opt) == state
    train_step(model, opt, BATCH, CONFIG)
    train_step(resumed, resumed_opt, BATCH, CONFIG)  # needs Adam's moments to match
    for (name, a), b in zip(model.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_a_half_written_checkpoint_is_never_picked_and_old_ones_are_pruned(
    model_dir: Path, tmp_path: Path
) -> None:
    model, opt = _fresh(model_dir)
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, model, opt, TrainerState(step=step), keep=2)
    half = tmp_path / ".tmp-step-00000004-999"  # a kill -9 in the middle of writing step 4
    half.mkdir()
    (half / "state.json").write_text("{")
    assert latest_checkpoint(tmp_path) == tmp_path / "step-00000003"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000002", "step-00000003"]


def test_the_ledger_is_reconciled_to_the_checkpoint_after_a_kill_between_rename_and_append(
    tmp_path: Path,
) -> None:
    ledger = tmp_path / "trained.jsonl"
    append_ledger(ledger, [StepIds(step=1, sample_ids=["a"])])
    with ledger.open("a") as f:
        f.write('{"step": 2, "sample_')  # cut short
    state = TrainerState(
        step=3, steps=[StepIds(step=2, sample_ids=["b"]), StepIds(step=3, sample_ids=["c"])]
    )
    reconcile_ledger(ledger, state)
    lines = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert [(line["step"], line["sample_ids"]) for line in lines] == [
        (1, ["a"]),
        (2, ["b"]),
        (3, ["c"]),
    ]


def test_a_ledger_line_keeps_each_samples_advantage_and_old_lines_still_read() -> None:
    from sparring.trainer.checkpoint import StepIds

    line = StepIds(step=3, sample_ids=["a", "b"], advantages=[0.5, -0.5]).model_dump_json()
    assert StepIds.model_validate_json(line).advantages == [0.5, -0.5]
    old = StepIds.model_validate_json('{"step": 1, "sample_ids": ["a"]}')
    assert old.advantages == []
