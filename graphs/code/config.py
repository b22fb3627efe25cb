"""CodeConfig: every knob of the code game, each with a default sized for two CPU cores."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from sparring.graphs.curriculum import CurriculumSettings, check_level_shares
from sparring.policy.base import SamplingParams
from sparring.roles.rewards import ProposerReward
from sparring.tools.sandbox import Limits

__all__ = ["TASK_TYPES", "CodeConfig", "TaskType"]

TaskType = Literal["deduction", "abduction"]
TASK_TYPES: tuple[TaskType, ...] = ("deduction", "abduction")


class CodeConfig(CurriculumSettings):
    """The code game's section of the run config (`game_params`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_types: tuple[TaskType, ...] = Field(
        default=TASK_TYPES,
        min_length=1,
        description="Task types played, drawn uniformly: 'deduction' (program + input -> "
        "output) and 'abduction' (program + output -> an input that gives it).",
    )
    min_difficulty: int = Field(default=1, ge=1, le=8, description="Fewest statements asked for.")
    max_difficulty: int = Field(
        default=3,
        ge=1,
        le=8,
        description="Most statements asked for: the highest level the warm-up shows (a level "
        "never demonstrated stays at chance, docs/learning.md).",
    )
    exact_steps: bool = Field(
        default=True,
        description="A proposal must have exactly the asked number of statements before its "
        "return (else it is invalid), so the curriculum's difficulty means something.",
    )
    tasks: Literal["proposer", "oracle"] = Field(
        default="proposer",
        description="Who writes the programs: 'proposer' (self-play) or 'oracle' (the "
        "generator, no proposer trained; with curriculum='uniform' the fixed baseline of "
        "bench/learning.py). Not read by the warm-up.",
        json_schema_extra={"warmup": False},
    )
    n_solvers: int = Field(default=8, ge=1, description="Solver attempts per task, one group.")
    references: int = Field(
        default=2,
        ge=0,
        le=8,
        description="Earlier valid programs of the task type shown to the proposer (AZR "
        "conditions each proposal on a few from its buffer).",
    )
    buffer_size: int = Field(
        default=256, ge=1, description="Valid tasks kept per type (the oldest are dropped)."
    )
    seed_tasks: int = Field(
        default=16,
        ge=1,
        description="Generated programs that seed an empty buffer (AZR seeds its buffer too).",
    )
    proposer_reward: ProposerReward = Field(
        default="absolute_zero",
        description="Pay for a valid task solved at rate p: 'absolute_zero' = 0 if p is 0 or 1, "
        "else 1 - p (AZR's learnability reward); 'inverse_solve_rate' = 1 - p; "
        "'learnability' = 4p(1 - p).",
    )
    format_penalty: float = Field(
        default=-0.5, le=0, description="Proposer reward for an invalid proposal (any check)."
    )
    max_program_chars: int = Field(
        default=400, ge=20, description="Longest program (source characters) accepted."
    )
    max_value_chars: int = Field(
        default=64, ge=1, description="Longest repr of an input or output accepted."
    )
    limits: Limits = Field(
        default=Limits(wall_s=2.0, cpu_s=1, memory_mb=128, processes=1, output_bytes=4096),
        description="Sandbox limits of every run (a proposal's two, each abduction check).",
    )
    proposer: SamplingParams = Field(
        default=SamplingParams(max_new_tokens=120, top_p=0.9),
        description="Proposer sampling (a level-3 program and its input are ~75 tokens).",
    )
    solver: SamplingParams = Field(
        default=SamplingParams(max_new_tokens=32, top_p=0.9),
        description="Solver sampling (also the evaluation's 'sampled'); top_p 0.9 as arith's: "
        "the warm-up's label smoothing leaves mass on junk tokens.",
    )
    eval_programs: int = Field(default=100, ge=1, description="Held-out programs per level.")
    eval_seed: int = Field(default=20_250_505, description="Seed of the fixed held-out set.")
    warmup_mix: dict[int, float] = Field(
        default={1: 0.4, 2: 0.45, 3: 0.15},
        description="Share of each level among solver demonstrations: the easy levels plus a "
        "smaller share of the frontier, for the warm-up to leave half-known.",
    )
    warmup_ready: dict[int, float] = Field(
        default={1: 0.9, 2: 0.8, 3: 0.3},
        description="Greedy deduction accuracy each level must reach on probe programs (apart "
        "from the held-out set) before the warm-up stops.",
    )
    warmup_probe: int = Field(default=40, ge=1, description="Probe programs per level.")
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
        if len(set(self.task_types)) != len(self.task_types):
            raise ValueError(f"task_types repeats a type: {self.task_types}")
        return self

    @property
    def levels(self) -> list[int]:
        """The difficulties tasks are drawn from."""
        return list(range(self.min_difficulty, self.max_difficulty + 1))
