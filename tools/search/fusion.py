"""Hybrid ranking: reciprocal rank fusion (RRF) of the dense and the BM25 rankings.

    score(d) = sum over rankings r of 1 / (k + rank_r(d)),  rank from 1, k = 60

RRF (Cormack, Clarke & Buettcher, SIGIR 2009) uses ranks, not scores. That is why it is the
fusion here: a cosine similarity lives in [-1, 1] and bunches near 0.3-0.6, a BM25 score is
unbounded and grows with query length and term rarity, so any weighted sum first needs a
per-query normalisation (min-max, z-score) whose result swings with the extremes of each list.
Ranks need none, there is one parameter, and k = 60 (the paper's value) keeps one list's first
place from outweighing agreement between both. A passage found by only one list still counts.

    reciprocal_rank_fusion([[3, 1, 7], [7, 2]], k=60)   # -> [(7, ...), (3, ...), ...]
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["RRF_K", "reciprocal_rank_fusion"]

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], k: int = RRF_K
) -> list[tuple[int, float]]:
    """Rows of all `rankings` (each best first) with their fused scores, best first.

    Ties keep the order in which a row was first seen (the first ranking wins), so the result
    is deterministic.
    """
    if k < 0:
        raise ValueError(f"RRF k must be >= 0, got {k}")
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking, start=1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: -item[1])
