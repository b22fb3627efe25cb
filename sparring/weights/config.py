"""SyncConfig: which ways the trainer publishes each version of the weights.

One frozen model, a field of `TrainerConfig` (`trainer.sync` in a run's config). The defaults
publish every way that runs without a GPU: the same-host file (workers on the trainer's machine
read it) and the Object Store, whole and as a delta (workers elsewhere, late ones, and every
worker's fallback).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["SyncConfig"]


class SyncConfig(BaseModel):
    """How new weights travel from the trainer to the workers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    same_host: bool = Field(
        True,
        description="Write each version once as a safetensors file that workers on this "
        "machine load directly (announced before the bus copy is stored).",
    )
    dir: str = Field(
        "auto",
        description="Folder of the same-host files: 'auto' is /dev/shm (RAM) when it has room "
        "for keep_files + 1 copies, else RUN/weights; or a path.",
    )
    keep_files: int = Field(
        2,
        ge=1,
        description="Same-host files kept; older ones are removed (a worker never needs a file "
        "after opening it, and one that finds it gone loads the newest version).",
    )
    bus: bool = Field(
        True,
        description="Also store each version whole in the Object Store: for workers on other "
        "machines, late workers, and as every worker's fallback.",
    )
    delta: bool = Field(
        True,
        description="Also store a compressed delta from the previous version; a worker serving "
        "exactly that version fetches it instead of the whole weights.",
    )
    delta_max_ratio: float = Field(
        0.8,
        gt=0,
        le=1,
        description="A delta larger than this fraction of the whole weights is not stored.",
    )

    @model_validator(mode="after")
    def _some_way(self) -> SyncConfig:
        if not (self.same_host or self.bus):
            raise ValueError("weights need a way to travel: set same_host or bus (or both)")
        return self
