"""Errors the trainer raises on purpose, each saying what to do.

SparringError
├── ConfigError                   (sparring.errors) a bad --config value
└── TrainerError                  anything the trainer cannot go on from
    ├── ModelLoadError            the model folder does not load
    └── CheckpointError           a checkpoint folder is unreadable or inconsistent
"""

from __future__ import annotations

from pathlib import Path

from sparring.errors import SparringError

__all__ = ["CheckpointError", "ModelLoadError", "TrainerError"]


class TrainerError(SparringError):
    """The trainer cannot continue."""


class ModelLoadError(TrainerError):
    """The run's model folder could not be loaded."""

    def __init__(self, model_dir: Path, reason: str) -> None:
        self.model_dir = model_dir
        self.reason = reason
        super().__init__(
            f"cannot load a causal LM from {model_dir}: {reason}. Point --model at a folder "
            "written by save_pretrained (e.g. `sparring init-model DIR`)"
        )


class CheckpointError(TrainerError):
    """A checkpoint could not be read back."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"checkpoint {path} is unusable: {reason}. Delete that folder to resume from the "
            "previous checkpoint, or start a new run directory"
        )
