"""KuhnConfig: the Kuhn Poker game's section of the run config."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["KuhnConfig"]


class KuhnConfig(BaseModel):
    """Sampling of the seats, and the bar the warm-up must clear."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reward: Literal["chips", "sign"] = Field(
        default="chips",
        description="What every move of a seat is paid: the chips its seat won or lost in the "
        "hand (+-1 or +-2; zero-sum), or only their sign (+-1, win or loss, as SPIRAL pays). "
        "With the sign, a king wins whether it bets or checks and a jack loses whether it "
        "calls or folds, so the sign carries no signal for those decisions.",
    )
    illegal_penalty: float = Field(
        default=1.0,
        ge=0,
        description="Chips an illegal move itself pays on top of its seat's forfeit. Without it "
        "an illegal move facing a bet costs exactly what a fold costs, so nothing in self-play "
        "tells the two apart, and the policy drifted into illegal 'folds'.",
    )
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
    ready_tv: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="The warm-up stops once the sampled moves are within this total variation "
        "distance of the demonstrated strategy at every one of the 12 information sets (it "
        "teaches legality, the card and the two dominated choices; not strategy).",
    )
    eval_samples: int = Field(
        default=64,
        ge=1,
        le=1024,
        description="Moves sampled per information set to estimate the sampled policy, for "
        "the readiness check and the chips_sampled figures.",
    )
