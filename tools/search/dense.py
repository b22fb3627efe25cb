"""The faiss index over passage vectors: exact for small corpora, IVF or HNSW for large ones.

Vectors are unit rows, so every kind searches by inner product (= cosine):

- "flat": `IndexFlatIP`, exact; a query costs one pass over all vectors. Right up to ~100k
  passages on a CPU (10k x 384 at batch 32 is a few ms).
- "ivf": k-means into `nlist` lists, a query scans the `nprobe` nearest lists (Jegou et al.,
  "Product quantization for nearest neighbor search", TPAMI 2011, for the inverted file).
  Needs training on the corpus; recall grows with nprobe / nlist.
- "hnsw": a navigable small-world graph (Malkov & Yashunin, arXiv 1603.09320) with `hnsw_m`
  links per node; no training, recall grows with `ef_search`.
- "auto": flat up to `flat_max` passages, HNSW above.

    config = DenseConfig(kind="hnsw", ef_search=128)
    index = build_dense(vectors, config)          # (N, D) float32 unit rows
    scores, rows = index.search(queries, 10)      # (Q, 10) each; row -1 = no result
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import faiss
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sparring.tools.search.errors import SearchIndexError

__all__ = ["DenseConfig", "DenseKind", "build_dense", "kind_of", "resolve_kind", "tune"]

DenseKind = Literal["flat", "ivf", "hnsw"]

_ADD_CHUNK = 8192
_MIN_POINTS_PER_LIST = 39  # faiss's own floor for k-means training (it warns below it)


class DenseConfig(BaseModel):
    """How the dense index is built and searched (saved with the index, applied on load)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["auto", "flat", "ivf", "hnsw"] = Field(
        default="auto", description="Index kind; auto = flat up to flat_max passages, else hnsw."
    )
    flat_max: int = Field(default=100_000, ge=1, description="Largest corpus auto keeps exact.")
    nlist: int | None = Field(
        default=None,
        ge=1,
        description="IVF lists; default about 4*sqrt(N), fewer if the corpus cannot train them.",
    )
    nprobe: int = Field(default=16, ge=1, description="IVF lists scanned per query.")
    hnsw_m: int = Field(default=32, ge=2, description="HNSW links per node.")
    ef_construction: int = Field(default=200, ge=1, description="HNSW candidate list at build.")
    ef_search: int = Field(default=128, ge=1, description="HNSW candidate list per query.")


def resolve_kind(config: DenseConfig, count: int) -> DenseKind:
    """The concrete kind `config` builds for a corpus of `count` passages."""
    if config.kind != "auto":
        return config.kind
    return "flat" if count <= config.flat_max else "hnsw"


def build_dense(
    vectors: np.ndarray, config: DenseConfig, on_added: Callable[[int], None] | None = None
) -> Any:
    """A searchable faiss index over `vectors` ((N, D) float32 unit rows), tuned by `config`.

    Vectors are added in chunks, `on_added(n)` after each (HNSW insertion is the slow part of a
    large build, so a progress bar has something to show).
    """
    count, dim = vectors.shape
    kind = resolve_kind(config, count)
    index: Any
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "ivf":
        index = faiss.index_factory(
            dim, f"IVF{_nlist(config, count)},Flat", faiss.METRIC_INNER_PRODUCT
        )
        index.train(vectors)
    else:
        index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config.ef_construction
    for start in range(0, count, _ADD_CHUNK):
        chunk = vectors[start : start + _ADD_CHUNK]
        index.add(chunk)
        if on_added is not None:
            on_added(len(chunk))
    tune(index, config)
    return index


def tune(index: Any, config: DenseConfig) -> None:
    """Apply the search-time settings (nprobe, ef_search) to a built or loaded index."""
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = config.ef_search
    elif isinstance(index, faiss.IndexIVF):
        index.nprobe = min(config.nprobe, index.nlist)


def kind_of(index: Any) -> DenseKind:
    """The kind of a faiss index this module built."""
    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    return "ivf" if isinstance(index, faiss.IndexIVF) else "flat"


def _nlist(config: DenseConfig, count: int) -> int:
    most = max(1, count // _MIN_POINTS_PER_LIST)
    if config.nlist is None:
        return max(1, min(round(4 * math.sqrt(count)), most))
    if config.nlist > count:
        raise SearchIndexError(
            None,
            f"nlist={config.nlist} IVF lists cannot be trained on {count} passages: use "
            f"--nlist {most} or fewer, or --kind flat for a corpus this small",
        )
    return config.nlist
