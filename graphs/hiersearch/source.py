"""The hiersearch task source: the hop count by the curriculum, then a question of that many hops.

With `curriculum = 'adaptive'` the hop count whose recent planner exact match is nearest one
half is drawn most (graphs/curriculum.py); with 'uniform' both alike.
"""

from __future__ import annotations

from sparring.graphs.curriculum import LevelTaskSource
from sparring.graphs.hiersearch.config import HierSearchConfig
from sparring.graphs.hiersearch.heldout import tasks

__all__ = ["HierSearchTaskSource"]


class HierSearchTaskSource(LevelTaskSource):
    """Draws {"question", "golds", "hops", "chain"} task params; the planners' EM steers it."""

    def __init__(self, cfg: HierSearchConfig, seed: int = 0) -> None:
        super().__init__(
            cfg, seed, levels=cfg.hop_counts, tasks=tasks, level_param="hops", rate_stat="em"
        )
