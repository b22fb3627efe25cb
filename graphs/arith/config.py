"""ArithConfig: every knob of the arith game, each with a default that works on two CPU cores."""

from __future__ import annotations

from typing import Self

from pydantic import ConfigDict, Field, model_validator

from sparring.graphs.curriculum import CurriculumSettings, check_level_shares
from sparring.policy.base import SamplingParams
from sparring.roles.rewards import ProposerReward

__all__ = ["ArithConfig", "ProposerReward"]


class ArithConfig(CurriculumSettings):
    """The arith game's section of the run config."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_solvers: int = Field(
        default=8,
        ge=1,
        description="Solver attempts per question (a group; 8 as measured in docs/learning.md: "
        "with 5, fewer groups carry signal).",
    )
    min_difficulty: int = Field(default=1, ge=1, description="Fewest operations asked for.")
    max_difficulty: int = Field(
        default=4,
        ge=1,
        le=20,
        description="Most operations asked for. Keep it at the highest level the warm-up shows: "
        "a level never demonstrated stays at chance, and training on it erodes the others "
        "(docs/learning.md).",
    )
    proposer_reward: ProposerReward = Field(
        default="absolute_zero",
        description="Pay for a valid question with solve rate p: 'inverse_solve_rate' = 1 - p; "
        "'absolute_zero' = 0 if p is 0 or 1, else 1 - p (Zhao et al. 2025, Absolute Zero, "
        "arXiv:2505.03335: a question everyone or no one solves teaches nothing); "
        "'learnability' = 4p(1 - p), 1 at p = 0.5.",
    )
    format_penalty: float = Field(
        default=-0.5, description="Proposer reward for an invalid question (any failed check)."
    )
    proposer: SamplingParams = Field(
        default=SamplingParams(max_new_tokens=40, top_p=0.9),
        description="Proposer sampling (a worked chain). top_p 0.9: the warm-up's label smoothing "
        "leaves ~10% of every token's mass on the whole vocabulary, and at top_p 1 only ~22% of "
        "sampled chains came out well-formed (97% at 0.9).",
    )
    solver: SamplingParams = Field(
        default=SamplingParams(max_new_tokens=40, top_p=0.9),
        description="Solver sampling (also the evaluation's 'sampled'); top_p as the proposer's.",
    )
    max_chars: int = Field(default=64, ge=1, description="Longest expression the verifier reads.")
    eval_problems: int = Field(default=200, ge=1, description="Held-out problems per level.")
    eval_seed: int = Field(default=20_250_101, description="Seed of the fixed held-out set.")
    warmup_mix: dict[int, float] = Field(
        default={1: 0.39, 2: 0.43, 3: 0.15, 4: 0.02},
        description="Share of each difficulty among solver demonstrations: easy levels plus a "
        "small share of the frontier, which the warm-up then leaves half-known for RL to lift "
        "(docs/learning.md: with 3% d=4 is already mastered; 1-2% leaves it at .5-.9).",
    )
    warmup_ready: dict[int, float] = Field(
        default={1: 0.9, 2: 0.9, 3: 0.9, 4: 0.3},
        description="Greedy accuracy each level must reach on a probe set (apart from the "
        "held-out set) before the warm-up stops: the digit table arrives in a phase change "
        "anywhere from 400 to 1000 steps, so a fixed length is no recipe (docs/learning.md).",
    )
    warmup_probe: int = Field(
        default=50, ge=1, description="Probe problems per level for the warm-up's readiness check."
    )
    warmup_proposer_share: float = Field(
        default=0.2, ge=0, le=1, description="Share of demonstrations that teach the proposer."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.min_difficulty > self.max_difficulty:
            raise ValueError(
                f"min_difficulty {self.min_difficulty} > max_difficulty {self.max_difficulty}"
            )
        check_level_shares(self.warmup_mix)
        return self

    @property
    def levels(self) -> list[int]:
        """The difficulties tasks are drawn from."""
        return list(range(self.min_difficulty, self.max_difficulty + 1))
