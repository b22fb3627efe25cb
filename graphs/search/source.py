"""The search task source: the hop count by the curriculum, then a task of that many hops.

With `curriculum = 'adaptive'` (the default) the hop count whose recent solve rate is nearest
one half is drawn most (graphs/curriculum.py): a question the solvers always or never answer
teaches nothing, and the proposer of this scale does not yet steer its own difficulty well (its
verified questions are the ones the verifier, the same policy, can answer, so they skew easy).
With `curriculum = 'uniform'` every hop count is drawn alike: with `questions = 'oracle'` that
is the fixed curriculum bench/learning.py compares self-play with.
"""

from __future__ import annotations

from sparring.graphs.curriculum import LevelTaskSource
from sparring.graphs.search.config import SearchGameConfig
from sparring.graphs.search.heldout import tasks

__all__ = ["SearchTaskSource"]


class SearchTaskSource(LevelTaskSource):
    """Draws {"answer", "hops"} task params (and the oracle's question); adapts to outcomes:
    a verified question's solve rate counts toward its hop count (an unverified one, which no
    solver attempted, counts for nothing)."""

    def __init__(self, cfg: SearchGameConfig, seed: int = 0) -> None:
        super().__init__(
            cfg, seed, levels=cfg.hop_counts, tasks=tasks, level_param="hops",
            rate_stat="solve_rate",
        )  # fmt: skip
