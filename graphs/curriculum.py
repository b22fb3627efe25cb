"""A curriculum over a game's difficulty levels, steered by the solvers' recent solve rates.

With mode "adaptive" each level d is drawn with weight max(p_d (1 - p_d), floor), where p_d is
the mean solve rate over the level's `window` most recent valid episodes (an unseen level counts
as p = 0.5, the frontier, so it is tried). Levels the solver always or never solves fade to the
floor; the half-known level, where a group of attempts carries signal, is drawn most. This is the
proposer-side half of self-play at the tiny model's scale (LEARNING.md study 3): samples go where
RL can move. Mode "uniform" draws every level alike and ignores outcomes: the fixed curriculum
that self-play is measured against.

A game's task source holds one (arith: the number of digits; search: the hop count):

    levels = Curriculum([1, 2, 3], "adaptive", window=32, floor=0.02)
    hops = levels.draw(rng)
    levels.observe(hops, outcome.episode.stats.get("solve_rate"))   # None: no valid question
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

if TYPE_CHECKING:
    from sparring.graphs.episode import EpisodeOutcome

__all__ = [
    "Curriculum",
    "CurriculumMode",
    "CurriculumSettings",
    "LevelTaskSource",
    "check_level_shares",
]

CurriculumMode = Literal["adaptive", "uniform"]


class CurriculumSettings(BaseModel):
    """The curriculum's fields of a game's config (a game's config model inherits them). The
    warm-up reads none of them, so runs that differ only here share one warmed-up model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    curriculum: CurriculumMode = Field(
        default="adaptive",
        description="How the task source picks the level: 'adaptive' weighs each level by "
        "p(1 - p) of its recent solve rate (the frontier), 'uniform' ignores outcomes.",
        json_schema_extra={"warmup": False},
    )
    curriculum_window: int = Field(
        default=32,
        ge=1,
        description="Recent episodes per level that the solve rate is over.",
        json_schema_extra={"warmup": False},
    )
    curriculum_floor: float = Field(
        default=0.02,
        ge=0,
        le=0.25,
        description="Least weight of a level (p(1 - p) is at most 0.25), so a mastered level is "
        "still visited and not forgotten.",
        json_schema_extra={"warmup": False},
    )

    def curriculum_over(self, levels: Sequence[int]) -> Curriculum:
        """A fresh curriculum over `levels` with these settings."""
        return Curriculum(levels, self.curriculum, self.curriculum_window, self.curriculum_floor)


class Curriculum:
    """Weights over difficulty levels, moved by the solve rates observed at each."""

    def __init__(
        self, levels: Sequence[int], mode: CurriculumMode, window: int, floor: float
    ) -> None:
        if not levels:
            raise ValueError("a curriculum needs at least one level")
        self.mode = mode
        self._floor = floor
        self._recent = {d: deque[float](maxlen=window) for d in levels}

    def solve_rates(self) -> dict[int, float | None]:
        """Recent mean solve rate per level (None before any valid episode)."""
        return {d: sum(r) / len(r) if r else None for d, r in self._recent.items()}

    def probabilities(self) -> dict[int, float]:
        """The chance of drawing each level next."""
        if self.mode == "uniform":
            weights = {d: 1.0 for d in self._recent}
        else:
            weights = {
                d: max(p * (1 - p), self._floor)
                for d, p in ((d, 0.5 if p is None else p) for d, p in self.solve_rates().items())
            }
        total = sum(weights.values())
        if total <= 0:  # floor 0 and every level settled: fall back to uniform
            return {d: 1 / len(weights) for d in weights}
        return {d: w / total for d, w in weights.items()}

    def draw(self, rng: random.Random) -> int:
        """The level of the next task."""
        probs = self.probabilities()
        return rng.choices(list(probs), weights=list(probs.values()))[0]

    def observe(self, level: object, rate: float | None) -> None:
        """Count one episode's solve rate toward its level; an episode without one (an invalid
        question, which no solver attempted) or at an unknown level counts for nothing."""
        if rate is not None and isinstance(level, int) and level in self._recent:
            self._recent[level].append(rate)


def check_level_shares(shares: dict[int, float], name: str = "warmup_mix") -> None:
    """Refuse a per-level share table (a warm-up mix) with no level, a level below 1, a negative
    share or no positive total: the check every game's config makes of its `warmup_mix`."""
    if not shares or any(w < 0 for w in shares.values()):
        raise ValueError(f"{name} needs at least one level and no negative share")
    if any(d < 1 for d in shares) or sum(shares.values()) <= 0:
        raise ValueError(f"{name} levels must be >= 1 with a positive total share")


class LevelTaskSource:
    """A task source over levels: the curriculum picks each task's level, `tasks` makes the
    task of that level, and each finished episode's `rate_stat` moves the curriculum.

    The search games' sources are this with their own task function (the hop count is the
    level; search counts the solve rate of a verified question, hiersearch the planners' EM).
    An episode without the stat (an unverified question, which nobody attempted) counts for
    nothing.
    """

    def __init__(
        self,
        cfg: Any,
        seed: int,
        *,
        levels: Sequence[int],
        tasks: Callable[[random.Random, Any, int], dict[str, JsonValue]],
        level_param: str,
        rate_stat: str,
    ) -> None:
        self._cfg, self._tasks = cfg, tasks
        self._rng = random.Random(seed)
        self._levels = cfg.curriculum_over(levels)
        self._level_param, self._rate_stat = level_param, rate_stat

    def probabilities(self) -> dict[int, float]:
        """The chance of drawing each level next."""
        return self._levels.probabilities()

    def next_params(self) -> dict[str, JsonValue]:
        return self._tasks(self._rng, self._cfg, self._levels.draw(self._rng))

    def observe(self, outcome: EpisodeOutcome) -> None:
        episode = outcome.episode
        self._levels.observe(
            episode.task.params.get(self._level_param), episode.stats.get(self._rate_stat)
        )
