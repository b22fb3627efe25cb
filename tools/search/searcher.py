"""Async search over a `SearchIndex`: concurrent queries from many episodes share one batch.

A worker plays many episodes at once and each may search at any moment. Embedding one query
costs about as much as embedding thirty (the model is small, the call overhead is not), so
`Searcher.search` queues its query on the project's `DynamicBatcher` (the one that batches
policy.generate): queries arriving within a few ms form one batch, which is embedded in ONE
encoder call and searched in ONE faiss call, in a thread so the event loop keeps serving.

Modes: "dense" (faiss inner product, the score a cosine), "bm25" (the BM25 score), "hybrid"
(reciprocal rank fusion of both rankings, each `fusion_depth` deep; the score the RRF score,
see fusion.py for why RRF).

    searcher = Searcher(index, embedder)
    hits = await searcher.search("who founded the Velmora guild?", k=3)
    hits[0].id, hits[0].title, hits[0].score
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sparring.policy._batching import DynamicBatcher
from sparring.tools.errors import ToolError
from sparring.tools.search.embedder import Encoder
from sparring.tools.search.errors import SearchIndexError
from sparring.tools.search.fusion import RRF_K, reciprocal_rank_fusion
from sparring.tools.search.index import SearchIndex

__all__ = ["Hit", "Query", "SearchConfig", "SearchMode", "Searcher"]

SearchMode = Literal["dense", "bm25", "hybrid"]


class SearchConfig(BaseModel):
    """How a Searcher answers and batches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    k: int = Field(default=3, ge=1, description="Results per query unless a call asks otherwise.")
    mode: SearchMode = Field(default="dense", description="Ranking unless a call asks otherwise.")
    fusion_depth: int = Field(default=50, ge=1, description="Hybrid: depth of each ranking fused.")
    rrf_k: int = Field(default=RRF_K, ge=0, description="Hybrid: the RRF constant k.")
    max_batch: int = Field(default=64, ge=1, description="Most queries in one batch.")
    wait_s: float = Field(
        default=0.002, ge=0, description="After a first query, how long a batch waits for more."
    )


@dataclass(frozen=True, slots=True)
class Hit:
    """One result: the passage and its score under the mode asked for.

    A slotted dataclass, not a pydantic model: a batch of 32 queries x 10 hits builds 320 of
    them, and pydantic's construction (about 3 us each, measured) was a tenth of a faiss search
    over 10k passages. Nothing here crosses the bus; `dataclasses.asdict` gives a record.
    """

    id: str
    """The passage id."""
    title: str
    """The passage title."""
    text: str
    """The passage text."""
    score: float
    """Cosine (dense), BM25 score (bm25) or RRF score (hybrid)."""


@dataclass(frozen=True)
class Query:
    """One query of a batch."""

    text: str
    k: int
    mode: SearchMode


class Searcher:
    """Answers `search` calls from any number of tasks, batching them (see the module doc)."""

    def __init__(
        self, index: SearchIndex, encoder: Encoder, config: SearchConfig | None = None
    ) -> None:
        if (index.manifest.model, index.manifest.dim) != (encoder.name, encoder.dim):
            raise SearchIndexError(
                None,
                f"built with {index.manifest.model!r} ({index.manifest.dim} dims), "
                f"queried with {encoder.name!r} ({encoder.dim} dims)",
            )
        self.index = index
        self.encoder = encoder
        self.config = config or SearchConfig()
        self._batcher: DynamicBatcher[Query, list[Hit]] = DynamicBatcher(
            run=self._run,
            key=lambda q: None,
            max_batch=self.config.max_batch,
            wait_s=self.config.wait_s,
        )

    @property
    def batches(self) -> int:
        """Batches answered so far (each at most one encoder call and one faiss call)."""
        return self._batcher.batches

    async def search(
        self, query: str, k: int | None = None, mode: SearchMode | None = None
    ) -> list[Hit]:
        """The best `k` passages for `query`, best first (fewer if fewer match)."""
        text = query.strip()
        if not text:
            raise ToolError("empty search query: write what to look for")
        item = Query(text, k or self.config.k, mode or self.config.mode)
        if item.mode != "dense" and self.index.bm25 is None:
            raise ToolError(f"{item.mode} search needs BM25, and this index was built without it")
        return await self._batcher.submit(item)

    async def aclose(self) -> None:
        await self._batcher.aclose()

    def search_batch(self, queries: Sequence[Query]) -> list[list[Hit]]:
        """Answer `queries` at once: one encoder call and one faiss call for all that need it."""
        dense = [i for i, q in enumerate(queries) if q.mode != "bm25"]
        rankings: dict[int, list[tuple[int, float]]] = {}
        if dense:
            depth = max(self._depth(queries[i]) for i in dense)
            vectors = self.encoder.encode([queries[i].text for i in dense])  # (Q, D)
            scores, rows = self.index.dense.search(vectors, min(depth, len(self.index.passages)))
            for slot, i in enumerate(dense):
                ranked = zip(rows[slot].tolist(), scores[slot].tolist(), strict=True)
                rankings[i] = [(r, s) for r, s in ranked if r >= 0][: self._depth(queries[i])]
        return [self._answer(q, rankings.get(i, [])) for i, q in enumerate(queries)]

    async def _run(self, group: list[Query]) -> list[list[Hit]]:
        return await asyncio.to_thread(self.search_batch, group)

    def _depth(self, query: Query) -> int:
        return max(query.k, self.config.fusion_depth) if query.mode == "hybrid" else query.k

    def _answer(self, query: Query, dense: list[tuple[int, float]]) -> list[Hit]:
        if query.mode == "dense":
            return self._hits(dense)
        assert self.index.bm25 is not None  # refused in search() otherwise
        rows, scores = self.index.bm25.top(query.text, self._depth(query))
        lexical = list(zip(rows.tolist(), scores.tolist(), strict=True))
        if query.mode == "bm25":
            return self._hits(lexical[: query.k])
        fused = reciprocal_rank_fusion(
            [[r for r, _ in dense], [r for r, _ in lexical]], k=self.config.rrf_k
        )
        return self._hits(fused[: query.k])

    def _hits(self, ranked: Sequence[tuple[int, float]]) -> list[Hit]:
        passages = self.index.passages
        return [Hit(passages[r].id, passages[r].title, passages[r].text, s) for r, s in ranked]
