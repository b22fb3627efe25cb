"""The trained model out of a run: `RUN/final/` and `sparring export RUN_DIR [--version N] OUT`.

A run's weights live in the trainer's checkpoints (`RUN/trainer/checkpoints/step-*`: every
weight, or the LoRA adapter alone) over the model the run started from (`RUN/initial_model`
names it). `export_model` turns one of them into a folder that transformers' `from_pretrained`,
and any server that reads such folders, loads as it is:

    OUT/config.json, model.safetensors, generation_config.json   the weights (LoRA merged in)
    OUT/tokenizer.json, tokenizer_config.json, chat_template.jinja  the run's tokenizer
    OUT/adapter/                                                  under LoRA: the adapter alone
    OUT/export.json                                               what it is: run, version, step

The weights are loaded the trainer's own way (`load_trainable`, then the checkpoint's tensors),
so the folder holds what the trainer served as that version. Versions are found through the
trainer's `published.jsonl` (version -> step); version 0 is the model the run started from.
`sparring run` ends by exporting the latest checkpoint to `RUN/final/`; `sparring export` does
it for any checkpoint still on disk (the trainer keeps the last `trainer.keep_checkpoints`), of
a finished or a live run. The folder is written beside OUT and renamed into place, so OUT is
never half a model.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import Any

import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field

from sparring.errors import ExportError, SparringError
from sparring.trainer import checkpoint as ckpt
from sparring.trainer.config import TrainerConfig
from sparring.trainer.errors import CheckpointError
from sparring.trainer.model import load_trainable

__all__ = ["Candidate", "Exported", "candidates", "export_final", "export_model", "main"]

FINAL = "final"
"""The folder under the run directory every run ends with."""


class Candidate(BaseModel):
    """Weights of a run that can be exported."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int | None = Field(description="Policy version they were served as (None: never).")
    step: int = Field(ge=0, description="Optimizer step they follow (0: the starting model).")
    checkpoint: str | None = Field(description="Checkpoint folder; None for the starting model.")

    def label(self) -> str:
        """How an error message lists it."""
        if self.checkpoint is None:
            return "0 (the model the run started from)"
        if self.version is None:
            return f"step {self.step} (never published; --step {self.step})"
        return f"{self.version} (step {self.step})"


class Exported(BaseModel):
    """What an export folder holds, written beside the weights as `export.json`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_dir: str = Field(description="The run it came from.")
    version: int | None = Field(description="Policy version (None: a never-published step).")
    step: int = Field(description="Optimizer step of the weights (0: the starting model).")
    checkpoint: str | None = Field(description="Checkpoint folder read (None: starting model).")
    base_model: str = Field(description="The model the run started from.")
    lora: bool = Field(description="Whether the run trained a LoRA adapter.")
    merged: bool = Field(description="Whether OUT holds full weights (False: the adapter only).")
    dtype: str = Field(description="dtype of the saved weights (the starting model's).")


def candidates(run_dir: Path) -> list[Candidate]:
    """Everything `run_dir` can export, oldest first: the starting model, then each
    checkpoint on disk under every version that served its weights."""
    trainer = run_dir / "trainer"
    steps: dict[int, list[int]] = {}
    for p in ckpt.read_publications(trainer / "published.jsonl"):
        steps.setdefault(p.step, []).append(p.version)
    found = [Candidate(version=0, step=0, checkpoint=None)]
    root = trainer / "checkpoints"
    for folder in sorted(root.glob("step-*")) if root.is_dir() else []:
        step = int(folder.name.removeprefix("step-"))
        versions: list[int | None] = [*steps.get(step, [])] or [None]
        found += [Candidate(version=v, step=step, checkpoint=str(folder)) for v in versions]
    return found


def _choose(run_dir: Path, version: int | None, step: int | None) -> Candidate:
    found = candidates(run_dir)
    if version is None and step is None:
        return found[-1]  # the latest weights
    chosen = [
        c
        for c in found
        if (version is None or c.version == version) and (step is None or c.step == step)
    ]
    if chosen:
        return chosen[-1]
    asked = f"version {version}" if version is not None else f"step {step}"
    listed = ", ".join(c.label() for c in found)
    raise ExportError(
        f"{run_dir} has no checkpoint of {asked}. Available versions: {listed}. The trainer "
        "keeps only its last trainer.keep_checkpoints checkpoints; raise it to keep more"
    )


def _base_model(run_dir: Path) -> str:
    record = run_dir / "initial_model"
    if not record.exists():
        raise ExportError(
            f"{run_dir} is not a run directory (it has no initial_model file): give the "
            "folder `sparring run` printed as its run directory"
        )
    return record.read_text().strip()


def _trainer_config(run_dir: Path) -> TrainerConfig:
    """The trainer's own config (LoRA or not), as it wrote it at start-up; on the CPU."""
    own = run_dir / "trainer" / "trainer_config.json"
    if own.exists():
        config = TrainerConfig.model_validate_json(own.read_text())
    else:  # stopped before the trainer started: the run's config says the same
        saved = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
        config = TrainerConfig.model_validate(saved.get("trainer") or {})
    # The CPU: exporting must not take a GPU from a live run; loading is the slow part anyway.
    return config.model_copy(update={"device": "cpu"})


def _load(run_dir: Path, chosen: Candidate, base: str) -> Any:
    """The trainer's model at `chosen`, loaded the way the trainer loads it."""
    model = load_trainable(Path(base), _trainer_config(run_dir))
    if chosen.checkpoint is not None:
        path = Path(chosen.checkpoint)
        try:
            ckpt.load_weights(path, model)
        except CheckpointError as e:
            if not path.exists():  # a live run's trainer rotated it away while we read
                raise ExportError(
                    f"checkpoint {path.name} was replaced by a newer one while it was read: "
                    "run the export again (or ask for a newer --version)"
                ) from e
            raise
    return model.eval()


def _saved_dtype(base: str) -> torch.dtype:
    """The starting model's dtype: the trainer works in fp32, the export is as big as the
    model it came from (bf16 models stay bf16)."""
    from transformers import AutoConfig

    dtype = getattr(AutoConfig.from_pretrained(base), "dtype", None)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None)
    return dtype if isinstance(dtype, torch.dtype) else torch.float32


def export_model(
    run_dir: Path,
    out: Path,
    version: int | None = None,
    step: int | None = None,
    merge: bool = True,
) -> Exported:
    """Write the run's weights at `version` (or `step`; default the latest) into `out`."""
    from transformers import AutoTokenizer

    chosen = _choose(run_dir, version, step)
    base = _base_model(run_dir)
    if out.exists() and not (out / "export.json").exists():
        raise ExportError(f"{out} exists and is not an export: choose a new folder or delete it")
    model = _load(run_dir, chosen, base)
    lora = hasattr(model, "peft_config")
    dtype = _saved_dtype(base)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if lora:
        model.save_pretrained(tmp / "adapter" if merge else tmp)
        # Folds W + (alpha/r) B A into each layer, the same sum `merged_state` publishes.
        model = model.merge_and_unload()
    if merge or not lora:
        model.to(dtype).save_pretrained(tmp)
    AutoTokenizer.from_pretrained(base).save_pretrained(tmp)  # chat template included
    info = Exported(
        run_dir=str(run_dir),
        version=chosen.version,
        step=chosen.step,
        checkpoint=chosen.checkpoint,
        base_model=base,
        lora=lora,
        merged=merge or not lora,
        dtype=str(dtype).removeprefix("torch."),
    )
    (tmp / "export.json").write_text(info.model_dump_json(indent=2) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return info


def export_final(run_dir: Path) -> str:
    """Export the latest weights to RUN/final/ (the end of every run); the line to print."""
    out = run_dir / FINAL
    try:
        info = export_model(run_dir, out)
    except (SparringError, OSError, RuntimeError, ValueError) as e:
        # The run is over and its checkpoints are safe: say so, never end the run in a traceback.
        return f"final model not written ({type(e).__name__}: {e}); `sparring export` retries"
    which = "the starting model" if info.checkpoint is None else f"step {info.step}"
    version = "" if info.version is None else f"version {info.version}, "
    return f"model: {out}  ({version}{which}; from_pretrained loads it)"


def main(args: argparse.Namespace) -> int:
    """`sparring export`."""
    from sparring.model_cache import quiet_transformers

    quiet_transformers()
    info = export_model(args.run_dir, args.out, args.version, args.step, merge=not args.no_merge)
    what = "the starting model" if info.checkpoint is None else f"checkpoint step {info.step}"
    version = "never published" if info.version is None else f"version {info.version}"
    print(f"exported {what} ({version}) of {info.run_dir} to {args.out}")
    return 0
