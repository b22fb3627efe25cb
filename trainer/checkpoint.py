"""Atomic checkpoints: model, optimizer and trainer state, written before any sample is acked.

Layout under `<run_dir>/checkpoints/`: one folder per checkpoint, `step-00000042/` holding
`weights.safetensors` (the full state dict, or the LoRA adapter), `optimizer.pt` and `state.json`
(a `TrainerState`). A checkpoint is written into a `.tmp-*` folder, every file and the folder are
fsynced, then it is renamed into place: a folder named `step-*` is always complete, so a kill -9
at any instant leaves either the old or the new checkpoint, never half of one.

Exactly-once effect: `TrainerState.steps` lists the sample ids of each step the checkpoint adds,
and `recent_ids` the ids of the last few checkpoints. The loop acks only after the rename; after
a restart a redelivered id found in `recent_ids` is acked and skipped. `<run_dir>/trained.jsonl`
is the human-readable ledger of every committed step, appended after each rename and reconciled
from the latest checkpoint on start-up (so a kill between rename and append loses nothing).
`<run_dir>/published.jsonl` records which step's weights each policy version holds, one
`Publication` a line, so a checkpoint can be found by the version workers served
(`sparring export --version N`); a checkpoint's own `state.version` is the version before it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sparring.trainer.errors import CheckpointError
from sparring.trainer.model import trained_state

__all__ = [
    "REMEMBERED_CHECKPOINTS",
    "Publication",
    "StepIds",
    "TrainerState",
    "append_ledger",
    "append_publication",
    "latest_checkpoint",
    "load_checkpoint",
    "load_weights",
    "read_publications",
    "reconcile_ledger",
    "save_checkpoint",
]

_PREFIX = "step-"
REMEMBERED_CHECKPOINTS = 8
"""Checkpoints whose sample ids stay in `recent_ids`: a redelivery can only concern the last one
(acks follow each checkpoint), the rest is a margin for acks lost on the wire."""


class StepIds(BaseModel):
    """The samples one committed optimizer step trained on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int = Field(ge=1, description="Optimizer step number (1-based).")
    sample_ids: list[str] = Field(description="Ids of the samples in that step's batch.")
    advantages: list[float] = Field(
        default_factory=list,
        description="The advantage each sample was trained with, aligned with `sample_ids` "
        "(empty in ledgers written before it was recorded). The inspector shows it.",
    )


class TrainerState(BaseModel):
    """Everything besides weights and optimizer that a resumed trainer needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int = Field(0, ge=0, description="Optimizer steps taken.")
    version: int = Field(0, ge=0, description="Last policy version published (0: initial model).")
    published_step: int = Field(0, ge=0, description="Step whose weights that version holds.")
    rae: dict[str, float] = Field(default_factory=dict, description="RAE baselines by game/role.")
    steps: list[StepIds] = Field(
        default_factory=list, description="Steps this checkpoint adds to the previous one."
    )
    recent_ids: list[list[str]] = Field(
        default_factory=list, description="Sample ids consumed per recent checkpoint, oldest first."
    )
    totals: dict[str, float] = Field(
        default_factory=dict, description="Running counters (dropped stale, incomplete, ...)."
    )


class Publication(BaseModel):
    """One published policy version: which optimizer step's weights it holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1, description="Policy version announced to the workers.")
    step: int = Field(ge=0, description="Optimizer step whose weights that version holds.")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(
    root: Path, model: Any, optimizer: torch.optim.Optimizer, state: TrainerState, keep: int
) -> Path:
    """Write a checkpoint atomically, delete all but the newest `keep`, return its folder."""
    from safetensors.torch import save_file

    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{_PREFIX}{state.step:08d}"
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file(trained_state(model), tmp / "weights.safetensors")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    (tmp / "state.json").write_text(state.model_dump_json())
    for f in tmp.iterdir():
        _fsync(f)
    _fsync(tmp)
    if final.exists():  # a previous life reached this step but was killed before its acks
        shutil.rmtree(final)
    tmp.rename(final)
    _fsync(root)
    for old in sorted(root.glob(f"{_PREFIX}*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete checkpoint folder, if any (half-written temp folders are removed)."""
    if not root.is_dir():
        return None
    for tmp in root.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    done = sorted(root.glob(f"{_PREFIX}*"))
    return done[-1] if done else None


def load_checkpoint(path: Path, model: Any, optimizer: torch.optim.Optimizer) -> TrainerState:
    """Load weights and optimizer state from `path` into `model`/`optimizer`; return the state."""
    state = load_weights(path, model)
    try:
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    except (OSError, RuntimeError, ValueError) as e:
        raise CheckpointError(path, str(e)) from e
    return state


def load_weights(path: Path, model: Any) -> TrainerState:
    """Load only the weights of checkpoint `path` into `model` (the adapter into a peft model);
    return its state. Exporting a model needs no optimizer, whose state is twice the weights."""
    from safetensors.torch import load_file

    try:
        state = TrainerState.model_validate_json((path / "state.json").read_text())
        weights = load_file(path / "weights.safetensors")
        if hasattr(model, "peft_config"):
            from peft import set_peft_model_state_dict

            set_peft_model_state_dict(model, weights)
        else:
            model.load_state_dict(weights)
    except (OSError, ValidationError, RuntimeError, ValueError) as e:
        raise CheckpointError(path, str(e)) from e
    return state


def reconcile_ledger(ledger: Path, state: TrainerState) -> None:
    """Make `ledger` hold exactly the committed steps up to `state.step`, each once."""
    kept: dict[int, str] = {}
    if ledger.exists():
        for line in ledger.read_text().splitlines():
            try:
                step = int(json.loads(line)["step"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a kill -9
            if step <= state.step:
                kept[step] = line
    for record in state.steps:
        kept[record.step] = record.model_dump_json()
    tmp = ledger.with_suffix(".tmp")
    tmp.write_text("".join(kept[s] + "\n" for s in sorted(kept)))
    tmp.replace(ledger)


def append_ledger(ledger: Path, steps: list[StepIds]) -> None:
    """Append committed steps to the ledger (after their checkpoint is in place)."""
    with ledger.open("a") as f:
        f.writelines(s.model_dump_json() + "\n" for s in steps)


def append_publication(path: Path, publication: Publication) -> None:
    """Record a published version (after the KV announced it)."""
    with path.open("a") as f:
        f.write(publication.model_dump_json() + "\n")


def read_publications(path: Path) -> list[Publication]:
    """Every version recorded in `path`, oldest first (a line cut short by a kill is skipped)."""
    if not path.exists():
        return []
    found: list[Publication] = []
    for line in path.read_text().splitlines():
        try:
            found.append(Publication.model_validate_json(line))
        except ValidationError:
            continue
    return found
