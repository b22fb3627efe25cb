"""The arith task source: a target digit and a difficulty per task, the difficulty adaptive.

With `curriculum="adaptive"` each level d is drawn with weight max(p_d (1 - p_d), floor), where
p_d is the solvers' mean solve rate over the level's recent valid episodes (an unseen level counts
as p = 0.5, the frontier, so it is tried). Levels the solver always or never solves fade to the
floor; the half-known level, where a group of attempts carries signal, is drawn most. This is the
proposer-side half of self-play at this scale (LEARNING.md study 3): it spends samples where RL
can move. `curriculum="uniform"` draws every level equally, the baseline to compare against.
"""

from __future__ import annotations

import random
from collections import deque

from pydantic import JsonValue

from sparring.graphs.arith.config import ArithConfig
from sparring.graphs.episode import EpisodeOutcome

__all__ = ["ArithTaskSource"]


class ArithTaskSource:
    """Draws {"target", "difficulty"} task params; adapts to observed outcomes."""

    def __init__(self, cfg: ArithConfig, seed: int = 0) -> None:
        self._cfg = cfg
        self._rng = random.Random(seed)
        self._recent = {d: deque[float](maxlen=cfg.curriculum_window) for d in cfg.levels}

    def solve_rates(self) -> dict[int, float | None]:
        """Recent mean solve rate per level (None before any valid episode)."""
        return {d: sum(r) / len(r) if r else None for d, r in self._recent.items()}

    def probabilities(self) -> dict[int, float]:
        """The chance of drawing each level next."""
        if self._cfg.curriculum == "uniform":
            weights = {d: 1.0 for d in self._recent}
        else:
            weights = {
                d: max(p * (1 - p), self._cfg.curriculum_floor)
                for d, p in ((d, 0.5 if p is None else p) for d, p in self.solve_rates().items())
            }
        total = sum(weights.values())
        if total <= 0:  # floor 0 and every level settled: fall back to uniform
            return {d: 1 / len(weights) for d in weights}
        return {d: w / total for d, w in weights.items()}

    def next_params(self) -> dict[str, JsonValue]:
        probs = self.probabilities()
        difficulty = self._rng.choices(list(probs), weights=list(probs.values()))[0]
        return {"target": self._rng.randrange(10), "difficulty": difficulty}

    def observe(self, outcome: EpisodeOutcome) -> None:
        """Count the episode's solve rate toward its level (invalid questions have none)."""
        rate = outcome.episode.stats.get("solve_rate")
        level = outcome.episode.task.params.get("difficulty")
        if rate is not None and isinstance(level, int) and level in self._recent:
            self._recent[level].append(rate)
