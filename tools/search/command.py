"""`sparring index CORPUS OUT`: embed a JSONL corpus, build its faiss index and BM25, save.

The command line is parsed in sparring/cli.py; this is the work, with progress bars.
"""

from __future__ import annotations

import argparse
import time

from pydantic import ValidationError

from sparring.tools.search.corpus import load_corpus
from sparring.tools.search.dense import DenseConfig
from sparring.tools.search.embedder import Embedder
from sparring.tools.search.errors import SearchIndexError
from sparring.tools.search.index import SearchIndex

__all__ = ["main"]

_DENSE_OPTIONS = ("kind", "flat_max", "nlist", "nprobe", "hnsw_m", "ef_construction", "ef_search")


def main(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    passages = load_corpus(args.corpus)
    given = {k: getattr(args, k) for k in _DENSE_OPTIONS if getattr(args, k, None) is not None}
    try:
        config = DenseConfig(**given)
    except ValidationError as e:
        error = e.errors()[0]
        option = "--" + str(error["loc"][0]).replace("_", "-")
        raise SearchIndexError(args.out, f"{option}: {error['msg']}") from None
    print(f"index: {len(passages)} passages from {args.corpus}", flush=True)
    embedder = Embedder.minilm(batch_size=args.batch_size)
    index = SearchIndex.build(passages, embedder, config, bm25=not args.no_bm25, progress=True)
    index.save(args.out)
    m = index.manifest
    lexical = " + BM25" if m.bm25 else ""
    print(
        f"index: {m.count} passages, {m.kind}{lexical}, {m.model} ({m.dim} dims) -> {args.out} "
        f"in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    return 0
