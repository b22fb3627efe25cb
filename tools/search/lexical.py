"""BM25 over the same passages, through the maintained `bm25s` package (arXiv 2407.03618).

Dense retrieval finds paraphrases; BM25 finds the exact rare term (a name, a date, a made-up
word), which a small embedding model blurs. Tokens are bm25s's defaults: lowercase words of two
or more letters, English stopwords removed, no stemming (a stemmer would be another package).
Scoring is bm25s's "lucene" variant with k1 = 1.5, b = 0.75.

    bm25 = Bm25.build([p.indexed_text for p in passages])
    rows, scores = bm25.top("Velmora guild founder", 10)   # only passages sharing a term
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bm25s  # type: ignore[import-untyped]
import numpy as np

__all__ = ["Bm25"]


class Bm25:
    """A BM25 index; rows are positions in the passage list it was built from."""

    def __init__(self, retriever: Any) -> None:
        self._retriever = retriever

    @classmethod
    def build(cls, texts: Sequence[str]) -> Bm25:
        retriever = bm25s.BM25()
        retriever.index(_tokens(texts), show_progress=False)
        return cls(retriever)

    @classmethod
    def load(cls, folder: Path) -> Bm25:
        return cls(bm25s.BM25.load(str(folder)))

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder))

    @property
    def count(self) -> int:
        return int(self._retriever.scores["num_docs"])

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every passage for `query`, (N,) float32 (0 = no shared term)."""
        ids = self._retriever.get_tokens_ids(_tokens([query])[0])
        if not ids:
            return np.zeros(self.count, dtype=np.float32)
        return np.asarray(self._retriever.get_scores_from_ids(ids), dtype=np.float32)

    def top(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The best `k` rows and their scores, best first; rows scoring 0 are left out."""
        scores = self.scores(query)
        k = min(k, len(scores))
        rows = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        rows = rows[np.argsort(-scores[rows], kind="stable")]
        rows = rows[scores[rows] > 0]
        return rows, scores[rows]


def _tokens(texts: Sequence[str]) -> list[list[str]]:
    tokens: list[list[str]] = bm25s.tokenize(
        list(texts), stopwords="en", return_ids=False, show_progress=False
    )
    return tokens
