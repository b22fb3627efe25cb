"""The corpus a search game plays over, set up once per process: world, passages, index, searcher.

By default the game generates its world from `world_seed` and `world_articles` (tools/world) and
indexes it in the worker when the graph is built: a few hundred articles embed with MiniLM and
index (exact faiss inner product + BM25) in a few seconds on a CPU. A user may instead point
`corpus` at a JSONL file (indexed here) or `index` at a saved index folder (loaded, checked).

    library = library_for(cfg)           # cached: the graph, evaluation and warm-up share it
    library.searcher                     # async, batched across all episodes of the worker
    library.world                        # the fact table, None for a user's corpus

Recall, measured with `oracle_recall` on the 300-article world of seed 0 (810 1-hop questions;
top-k contains the article that states the fact):

    query                                         k   dense  bm25  hybrid
    the subject's name (forward; 810 1-hop qs)    1   1.00   1.00  1.00
    the answer (backward; last hop of 939 2-hop)  2    .10    .45   .27
    the answer (backward; same)                   5    .26    .71   .58

A made-up name is one rare term, which BM25 matches exactly and a small embedding model blurs;
so the game searches with BM25 by default (`search_mode`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from sparring.errors import GameError
from sparring.graphs.search.config import SearchGameConfig
from sparring.tools.search import (
    DenseConfig,
    Embedder,
    Hit,
    Passage,
    SearchConfig,
    Searcher,
    SearchIndex,
    SearchMode,
    load_corpus,
)
from sparring.tools.search.searcher import Query
from sparring.tools.world import World, build_world

__all__ = ["Library", "build_library", "library_for", "oracle_recall", "world_for"]


@dataclass(frozen=True)
class Library:
    """Everything searchable: the passages, their index and searcher, and the world if generated."""

    index: SearchIndex
    searcher: Searcher
    world: World | None

    @cached_property
    def passages(self) -> tuple[Passage, ...]:
        """Every passage of the index, in its order."""
        return tuple(self.index.passages)

    @cached_property
    def by_id(self) -> dict[str, Passage]:
        """Every passage by its id."""
        return {p.id: p for p in self.passages}

    def noise(self, exclude: Sequence[str], count: int, rng: random.Random) -> list[Passage]:
        """`count` passages whose ids are not in `exclude`, drawn by `rng` (the verifier's
        distractors)."""
        skip = set(exclude)
        pool = [p for p in self.passages if p.id not in skip]
        return rng.sample(pool, min(count, len(pool)))

    def search_now(self, query: str, k: int, mode: SearchMode) -> list[Hit]:
        """One search answered synchronously (demonstrations and measurements, outside a loop)."""
        return self.searcher.search_batch([Query(query.strip(), k, mode)])[0]


def build_library(cfg: SearchGameConfig, embedder: Embedder | None = None) -> Library:
    """Generate or load the corpus of `cfg` and index it (see the module docstring)."""
    embedder = embedder or Embedder.minilm()
    world: World | None
    if cfg.index is not None:
        world = None
        index = SearchIndex.load(cfg.index, embedder)
    else:
        world = world_for(cfg)
        if world is None:
            passages = load_corpus(Path(str(cfg.corpus)))
        else:
            passages = [Passage(id=a.id, title=a.title, text=a.text) for a in world.articles]
        needs_bm25 = cfg.search_mode != "dense"
        index = SearchIndex.build(passages, embedder, DenseConfig(kind="flat"), bm25=needs_bm25)
    if cfg.search_mode != "dense" and index.bm25 is None:
        raise GameError(
            f"search game: search_mode {cfg.search_mode!r} needs BM25, and the index at "
            f"{cfg.index} was built without it; rebuild it or set search_mode to 'dense'"
        )
    searcher = Searcher(index, embedder, SearchConfig(k=cfg.proposer_k, mode=cfg.search_mode))
    return Library(index, searcher, world)


def world_for(cfg: SearchGameConfig) -> World | None:
    """The generated world of `cfg` (cached), or None when it plays a user's corpus or index."""
    if cfg.corpus is not None or cfg.index is not None:
        return None
    return _world(cfg.world_articles, cfg.world_seed)


@lru_cache(maxsize=4)
def _world(articles: int, seed: int) -> World:
    return build_world(articles, seed=seed)


@lru_cache(maxsize=4)
def _cached(key: str) -> Library:
    return build_library(SearchGameConfig.model_validate_json(key))


def library_for(cfg: SearchGameConfig) -> Library:
    """The library of `cfg`, built on first use and shared by everything in this process."""
    fields = {"world_articles", "world_seed", "corpus", "index", "search_mode", "proposer_k"}
    return _cached(cfg.model_dump_json(include=fields))


def oracle_recall(library: Library, queries: Sequence[tuple[str, str]], k: int) -> dict[str, float]:
    """Share of (query, gold article id) pairs whose article is in the top `k`, per mode (each
    mode's queries answered as one batch)."""
    out: dict[str, float] = {}
    modes: tuple[SearchMode, ...] = ("dense", "bm25", "hybrid")
    for mode in modes:
        batch = [Query(q.strip(), k, mode) for q, _ in queries]
        hits = library.searcher.search_batch(batch)
        found = sum(
            gold in {h.id for h in row} for (_, gold), row in zip(queries, hits, strict=True)
        )
        out[mode] = found / max(len(queries), 1)
    return out
