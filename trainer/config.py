"""TrainerConfig: everything the streaming trainer needs to know, and nothing else.

One frozen model, built by the launcher from the run's config and handed to `Trainer` (or passed
as JSON to `python -m sparring.trainer --config`). The resolved config is logged at start-up.
Defaults follow what worked on two CPU cores with the tiny model (LEARNING.md): AdamW at 1e-4,
grad clip 1. Estimators per role come from the game's declaration (`sparring.credit.RoleSpec`),
merged with the run's overrides by the launcher; a role nobody names uses `default_estimator`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sparring.credit import GROUP_RELATIVE, Estimator, estimator_for
from sparring.messages import role_name
from sparring.weights.config import SyncConfig

__all__ = ["GROUP_RELATIVE", "Estimator", "LoraConfig", "TrainerConfig"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LoraConfig(_Frozen):
    """Train a LoRA adapter (peft) instead of every weight."""

    rank: int = Field(8, ge=1, description="Rank r of the low-rank update.")
    alpha: float = Field(16.0, gt=0, description="Scale numerator: the update is (alpha/r) B A.")
    targets: tuple[str, ...] = Field(
        ("q_proj", "k_proj", "v_proj", "o_proj"),
        description="Module names (peft target_modules) that get an adapter.",
    )
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the adapter input.")
    publish: Literal["merged", "adapter"] = Field(
        "merged",
        description="What workers get: 'merged' full weights (base + adapter) or only the "
        "'adapter' (small on the bus; vLLM serves it as a LoRA adapter, the transformers "
        "backend merges it into the starting weights on arrival).",
    )


class TrainerConfig(_Frozen):
    """How the trainer turns streamed samples into optimizer steps and published weights."""

    # optimizer
    lr: float = Field(1e-4, gt=0, description="AdamW learning rate.")
    betas: tuple[float, float] = Field((0.9, 0.999), description="AdamW betas.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW decoupled weight decay.")
    grad_clip: float = Field(1.0, gt=0, description="Max global gradient norm per step.")
    # loss
    clip_low: float = Field(
        0.2, ge=0, lt=1, description="Ratio pi/mu below 1 - clip_low stops pushing down (A < 0)."
    )
    clip_high: float = Field(
        0.28, ge=0, description="Ratio pi/mu above 1 + clip_high stops pushing up (A > 0); DAPO."
    )
    is_truncation: float = Field(
        2.0,
        gt=1,
        description="Cap on the importance ratio pi/mu where the surrogate leaves it unclipped "
        "(negative advantage, grown probability): bounds the weight of stale tokens.",
    )
    kl_coef: float = Field(
        0.0, ge=0, description="Weight of the k3 KL to the frozen initial model; 0 loads no ref."
    )
    max_staleness: int = Field(
        4, ge=0, description="Samples more than this many versions behind are dropped, counted."
    )
    # advantages
    estimators: dict[str, Estimator] = Field(
        default_factory=dict,
        description="Advantage estimator per role, keyed by role name ('solver') or by "
        "'game/role'; overrides what the game declares. Roles not listed anywhere use "
        "default_estimator.",
    )
    default_estimator: Estimator = Field(
        "grpo", description="Estimator of a role missing from `estimators`."
    )
    rae_decay: float = Field(
        0.95, ge=0, lt=1, description="EMA decay of the RAE baseline: b <- d*b + (1-d)*r."
    )
    # batching
    batch_groups: int = Field(
        16,
        ge=1,
        description="A step trains once this many complete groups of 2+ samples (with signal) "
        "wait...",
    )
    min_samples: int = Field(
        128,
        ge=1,
        description="...or once the waiting groups (singletons included) hold this many samples.",
    )
    group_timeout_s: float = Field(
        120.0, gt=0, description="An incomplete group older than this is dropped and counted."
    )
    fetch_batch: int = Field(256, ge=1, description="Samples pulled from JetStream per fetch.")
    max_sample_tokens: int = Field(
        0,
        ge=0,
        description="A sample with more tokens (prompt + completion) is dropped and counted "
        "(dropped_too_long), never trained; 0: the model's max_position_embeddings.",
    )
    # checkpoints and publication
    publish_every: int = Field(1, ge=1, description="Publish weights every this many steps.")
    checkpoint_every: int = Field(
        1, ge=1, description="Checkpoint (then ack) every this many steps."
    )
    keep_checkpoints: int = Field(2, ge=1, description="Checkpoints kept on disk; older deleted.")
    keep_weights: int = Field(
        8, ge=1, description="Published weight versions kept in the Object Store; older deleted."
    )
    sync: SyncConfig = Field(
        default_factory=SyncConfig,
        description="How each version travels to the workers: the same-host file, the Object "
        "Store whole and as a delta (sparring.weights).",
    )
    durable: str = Field("trainer", description="Durable consumer name on the samples stream.")
    # model and device
    lora: LoraConfig | None = Field(None, description="Train a LoRA adapter; None: full weights.")
    device: str = Field("auto", description="'auto' (CUDA if present, else CPU), 'cpu', 'cuda:0'.")
    threads: int = Field(
        0,
        ge=0,
        description="torch CPU threads; 0: half the cores (rollout workers share the machine, and "
        "oversubscribed torch threads spin: 2 threads on a busy 2-core box ran a step 15x slower).",
    )
    seed: int = Field(0, description="Seed of torch's generators.")

    @model_validator(mode="after")
    def _clip_inside_truncation(self) -> TrainerConfig:
        if 1 + self.clip_high > self.is_truncation:
            raise ValueError(
                f"is_truncation ({self.is_truncation}) must be at least 1 + clip_high "
                f"({1 + self.clip_high}): raise is_truncation or lower clip_high"
            )
        return self

    @model_validator(mode="after")
    def _role_names(self) -> TrainerConfig:
        for key in self.estimators:
            role_name(key.rsplit("/", 1)[-1])
        return self

    def estimator(self, game: str, role: str) -> Estimator:
        """The advantage estimator of `role` in `game`."""
        return estimator_for(self.estimators, self.default_estimator, game, role)
