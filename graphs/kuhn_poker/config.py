"""KuhnConfig: the Kuhn Poker game's section of the run config."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["KuhnConfig"]


class KuhnConfig(BaseModel):
    """Sampling of the seats, and the bar the warm-up must clear."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = Field(
        default=1.0,
        ge=0,
        description="Sampling temperature of every move in play (the evaluation is greedy).",
    )
    max_new_tokens: int = Field(
        default=2,
        ge=1,
        le=8,
        description="Tokens a move may take: one letter and room for an end token; the parser "
        "reads exactly one letter, so more would only buy malformed moves.",
    )
    ready_legal: float = Field(
        default=0.95,
        ge=0,
        le=1,
        description="Share of the 12 information sets at which the greedy move must be legal "
        "before the warm-up stops (it teaches format and legality, not strategy).",
    )
