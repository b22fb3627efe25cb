"""The arith task source: a target digit and a difficulty per task, the difficulty drawn by a
`Curriculum` (graphs/curriculum.py): with `curriculum="adaptive"` the half-known level is drawn
most, with `curriculum="uniform"` every level alike (the baseline to compare against)."""

from __future__ import annotations

import random

from pydantic import JsonValue

from sparring.graphs.arith.config import ArithConfig
from sparring.graphs.episode import EpisodeOutcome

__all__ = ["ArithTaskSource"]


class ArithTaskSource:
    """Draws {"target", "difficulty"} task params; adapts to observed outcomes."""

    def __init__(self, cfg: ArithConfig, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._levels = cfg.curriculum_over(cfg.levels)

    def solve_rates(self) -> dict[int, float | None]:
        """Recent mean solve rate per level (None before any valid episode)."""
        return self._levels.solve_rates()

    def probabilities(self) -> dict[int, float]:
        """The chance of drawing each level next."""
        return self._levels.probabilities()

    def next_params(self) -> dict[str, JsonValue]:
        difficulty = self._levels.draw(self._rng)
        return {"target": self._rng.randrange(10), "difficulty": difficulty}

    def observe(self, outcome: EpisodeOutcome) -> None:
        """Count the episode's solve rate toward its level (invalid questions have none)."""
        episode = outcome.episode
        self._levels.observe(episode.task.params.get("difficulty"), episode.stats.get("solve_rate"))
