"""The two knowledge sources of a hiersearch game, set up once per process.

The world (tools/world) is split by entity kind (`local_kinds`, tools/world/split.py): the
local source indexes one side's articles, the web source the other's, each its own BM25 + faiss
index and batched `Searcher`, so a sub-agent can only find what its side holds. The MiniLM
embedder is shared by both indexes and by the embedding refiner.

    sources = sources_for(cfg)
    sources.half("local").searcher       # a Library (graphs/search/library.py) per side
    sources.split.half(article_id)       # which side an article is on
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sparring.graphs.hiersearch.config import HierSearchConfig
from sparring.graphs.search.library import Library
from sparring.tools.search import (
    DenseConfig,
    Embedder,
    Passage,
    SearchConfig,
    Searcher,
    SearchIndex,
)
from sparring.tools.world import CorpusSplit, Half, Kind, World, build_world, split_corpus

__all__ = ["Sources", "build_sources", "sources_for", "split_world", "world_and_split"]


@dataclass(frozen=True)
class Sources:
    """The world, its split, one searchable library per side, and the shared embedder."""

    world: World
    split: CorpusSplit
    local: Library
    web: Library
    embedder: Embedder

    def half(self, name: Half) -> Library:
        """The library of one side."""
        return self.local if name == "local" else self.web


def build_sources(cfg: HierSearchConfig, embedder: Embedder | None = None) -> Sources:
    """Generate the world of `cfg`, split it and index each side."""
    embedder = embedder or Embedder.minilm()
    world, split = world_and_split(cfg)

    def library(half: Half) -> Library:
        passages = [
            Passage(id=a.id, title=a.title, text=a.text) for a in split.articles(world, half)
        ]
        index = SearchIndex.build(passages, embedder, DenseConfig(kind="flat"), bm25=True)
        searcher = Searcher(index, embedder, SearchConfig(k=cfg.agent_k, mode=cfg.search_mode))
        return Library(index, searcher, world)

    return Sources(world, split, library("local"), library("web"), embedder)


def world_and_split(cfg: HierSearchConfig) -> tuple[World, CorpusSplit]:
    """The generated world of `cfg` and its split (cached): all the questions need, no index."""
    return split_world(cfg.world_articles, cfg.world_seed, cfg.local_kinds)


@lru_cache(maxsize=4)
def split_world(articles: int, seed: int, kinds: tuple[Kind, ...]) -> tuple[World, CorpusSplit]:
    """The world of `articles` from `seed` and its split by `kinds` (cached)."""
    world = build_world(articles, seed=seed)
    return world, split_corpus(world, (), local_kinds=kinds)


@lru_cache(maxsize=4)
def _cached(key: str) -> Sources:
    return build_sources(HierSearchConfig.model_validate_json(key))


def sources_for(cfg: HierSearchConfig) -> Sources:
    """The sources of `cfg`, built on first use and shared by everything in this process."""
    fields = {"world_articles", "world_seed", "local_kinds", "search_mode", "agent_k"}
    return _cached(cfg.model_dump_json(include=fields))
