"""The streaming trainer: advantages, loss, the optimizer step, checkpoints, weight publication.

    from sparring.trainer import Trainer, TrainerConfig
    trainer = Trainer(TrainerConfig(lr=1e-4), model_dir, run_dir, bus)
    await trainer.run(stop_event)

or, as its own process (what the launcher starts):

    python -m sparring.trainer --url URL --run RUN --model DIR --run-dir DIR --config JSON
"""

from sparring.trainer.advantages import RaeBaselines, estimate, grpo, rloo
from sparring.trainer.batch import Batch, collate
from sparring.trainer.checkpoint import StepIds, TrainerState, latest_checkpoint
from sparring.trainer.config import Estimator, LoraConfig, TrainerConfig
from sparring.trainer.errors import CheckpointError, ModelLoadError, TrainerError
from sparring.trainer.loop import Trainer
from sparring.trainer.loss import LossOutput, policy_loss
from sparring.trainer.model import load_weights_bytes, weights_bytes
from sparring.trainer.step import StepStats, train_step

__all__ = [
    "Batch",
    "CheckpointError",
    "Estimator",
    "LoraConfig",
    "LossOutput",
    "ModelLoadError",
    "RaeBaselines",
    "StepIds",
    "StepStats",
    "Trainer",
    "TrainerConfig",
    "TrainerError",
    "TrainerState",
    "collate",
    "estimate",
    "grpo",
    "latest_checkpoint",
    "load_weights_bytes",
    "policy_loss",
    "rloo",
    "train_step",
    "weights_bytes",
]
