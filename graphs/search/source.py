"""The search task source: the hop count by the curriculum, then a task of that many hops.

With `curriculum = 'adaptive'` (the default) the hop count whose recent solve rate is nearest
one half is drawn most (graphs/curriculum.py): a question the solvers always or never answer
teaches nothing, and the proposer of this scale does not yet steer its own difficulty well (its
verified questions are the ones the verifier, the same policy, can answer, so they skew easy).
With `curriculum = 'uniform'` every hop count is drawn alike: with `questions = 'oracle'` that
is the fixed curriculum bench/learning.py compares self-play with.
"""

from __future__ import annotations

import random

from pydantic import JsonValue

from sparring.graphs.episode import EpisodeOutcome
from sparring.graphs.search.config import SearchGameConfig
from sparring.graphs.search.heldout import tasks

__all__ = ["SearchTaskSource"]


class SearchTaskSource:
    """Draws {"answer", "hops"} task params (and the oracle's question); adapts to outcomes."""

    def __init__(self, cfg: SearchGameConfig, seed: int = 0) -> None:
        self._cfg = cfg
        self._rng = random.Random(seed)
        self._hops = cfg.curriculum_over(cfg.hop_counts)

    def probabilities(self) -> dict[int, float]:
        """The chance of drawing each hop count next."""
        return self._hops.probabilities()

    def next_params(self) -> dict[str, JsonValue]:
        return tasks(self._rng, self._cfg, self._hops.draw(self._rng))

    def observe(self, outcome: EpisodeOutcome) -> None:
        """Count a verified question's solve rate toward its hop count (an unverified one, which
        no solver attempted, counts for nothing)."""
        episode = outcome.episode
        self._hops.observe(episode.task.params.get("hops"), episode.stats.get("solve_rate"))
