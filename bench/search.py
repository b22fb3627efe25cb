"""Search benchmark: sparring's search tool against raw faiss, index build times, IVF/HNSW recall.

    .venv/bin/python bench/search.py [--passages 10000] [--queries 640] [--batch 32]

The corpus is generated here (deterministic: people with jobs, towns, years and organisations,
written as two-sentence passages), so the run needs no download. Figures:

- Queries/s at batch 32, sparring against raw faiss, on the same index, vectors and queries.
  Sparring's side is `batch` concurrent `Searcher.search` calls (asyncio tasks, as episodes
  make them): the DynamicBatcher gathers them, a thread runs one faiss search, the rows become
  `Hit`s with id, title and text. The raw side is one `index.search(vectors, 10)` per batch.
  Measured twice, each fair on its own terms:
  * without embedding on either side (`qps_ratio`, the headline): the searcher is given the
    query vectors through a lookup encoder, so both sides search the identical vectors and the
    ratio is what sparring adds around faiss;
  * with embedding on both sides (`qps_ratio_with_embedding`): raw is `encode(batch)` then
    `index.search`; sparring is the real tool. The model dominates both, so this ratio is
    near 1 by construction and says little alone.
  Both for the exact index (what `auto` picks at this size) and for HNSW, whose search is so
  cheap that fixed per-batch costs show.
- Build seconds per 10k passages: embedding (the bulk of `sparring index`), each faiss kind
  from the vectors, BM25.
- recall@10 of IVF (nlist about 4 sqrt(N), nprobe 16, and nprobe 64) and HNSW (M 32,
  ef_search 128) against exact search, over the query set. The generated passages share one
  template, so their vectors crowd together; IVF's recall on a real corpus may well differ
  (not measured here).

Raw and sparring passes alternate, `--rounds` times, and the medians are compared, so a noisy
neighbour on a shared machine hits both sides alike. Ends with one JSON line {"bench": "search"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np

from sparring.tools.search import (
    Bm25,
    DenseConfig,
    Embedder,
    IndexManifest,
    Passage,
    SearchConfig,
    Searcher,
    SearchIndex,
    build_dense,
)
from sparring.tools.search.dense import DenseKind
from sparring.tools.search.index import embed_passages

K = 10


def _words(text: str) -> list[str]:
    return text.split()


FIRST = _words("Ada Bram Cora Dain Elsa Finn Gale Hale Iris Joss Kira Lorn Mira Nils Orla Pell")
FIRST += _words("Quin Rhea Sten Tova Ulf Vera Wren Yara Zeno Alba Bren Cato Dove Edda Ferro")
LAST = _words("Ashby Brandt Corwin Dell Eskin Farrow Gorse Holt Imber Jory Kettle Lund Marsh")
LAST += _words("Nairn Oakes Pryor Quill Rook Sallow Thorne Umber Vance Wicke Yarrow Zale")
TOWNS = _words("Ashford Carrow Dunmere Elstow Fenwick Garth Hollin Irvale Kestrel Lenmark")
TOWNS += _words("Morrow Norcross Oswin Pellham Quarry Rilby Saltmere Tarn Ulverd Vale Westby")
JOBS = _words("weaver miner astronomer scribe potter smith baker sailor glassblower cartographer")
JOBS += _words("brewer mason tanner herbalist clockmaker printer fisher carpenter chandler")
ORGS = [
    f"{a} {b}"
    for a in _words("Velmora Brannic Tessel Sarn Harrow Quexal Orrin Lantern")
    for b in ("Guild", "Order", "Society", "Company", "Circle")
]


def make_corpus(n: int, seed: int = 0) -> list[Passage]:
    """`n` two-sentence passages about generated people; titles are unique names."""
    rng = random.Random(seed)
    passages = []
    for i in range(n):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        job, born, lived = rng.choice(JOBS), rng.choice(TOWNS), rng.choice(TOWNS)
        text = (
            f"{name} was a {job} born in {born} in {rng.randint(1400, 1900)}. "
            f"They joined the {rng.choice(ORGS)} and later lived in {lived}, "
            f"where they were known for {rng.choice(['patience', 'songs', 'maps', 'feuds'])}."
        )
        passages.append(Passage(id=f"b{i}", title=f"{name} ({i})", text=text))
    return passages


def make_queries(passages: Sequence[Passage], n: int, seed: int = 1) -> list[str]:
    """Questions phrased unlike the passages, each about a passage's facts."""
    rng = random.Random(seed)
    queries = []
    for p in rng.sample(list(passages), n):
        words = p.text.split()
        job, town, org = words[4], words[7], " ".join(words[13:15])
        queries.append(f"Which {job} from {town} joined the {org}?")
    return queries


class LookupEncoder:
    """An Encoder that returns precomputed vectors: the searcher then embeds nothing."""

    def __init__(self, name: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.name = name
        self.dim = int(vectors.shape[1])
        self._rows = {t: i for i, t in enumerate(texts)}
        self._vectors = vectors

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._vectors[[self._rows[t] for t in texts]]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items) - size + 1, size)]


def raw_pass(index: Any, qbatches: list[np.ndarray]) -> float:
    t0 = time.perf_counter()
    for q in qbatches:
        index.search(q, K)
    return time.perf_counter() - t0


def raw_embedding_pass(index: Any, embedder: Embedder, tbatches: list[Sequence[str]]) -> float:
    t0 = time.perf_counter()
    for texts in tbatches:
        index.search(embedder.encode(texts), K)
    return time.perf_counter() - t0


async def sparring_pass(searcher: Searcher, tbatches: list[Sequence[str]]) -> float:
    t0 = time.perf_counter()
    for texts in tbatches:
        await asyncio.gather(*(searcher.search(t, k=K) for t in texts))
    return time.perf_counter() - t0


async def compare(
    rounds: int,
    raw: Callable[[], float],
    ours: Callable[[], Awaitable[float]],
    queries: int,
) -> dict[str, float]:
    """Alternate raw and sparring passes; medians as queries/s and their ratio."""
    raw(), await ours()  # warm caches, threads and the batcher's task
    raw_s, ours_s = [], []
    for _ in range(rounds):
        raw_s.append(raw())
        ours_s.append(await ours())
    raw_qps = queries / statistics.median(raw_s)
    ours_qps = queries / statistics.median(ours_s)
    return {"raw_qps": raw_qps, "sparring_qps": ours_qps, "ratio": ours_qps / raw_qps}


async def throughput(
    args: argparse.Namespace,
    embedder: Embedder,
    passages: list[Passage],
    dense: dict[str, Any],
    bm25: Bm25,
    queries: list[str],
    qvectors: np.ndarray,
) -> dict[str, dict[str, float]]:
    """Queries/s, sparring vs raw faiss: flat and HNSW without embedding, flat with it."""
    lookup = LookupEncoder(embedder.name, queries, qvectors)
    config = SearchConfig(k=K, max_batch=args.batch)
    tbatches = batches(queries, args.batch)
    qbatches = batches(qvectors, args.batch)
    n = len(tbatches) * args.batch
    qps: dict[str, dict[str, float]] = {}
    for kind in ("flat", "hnsw"):
        index = SearchIndex(passages, dense[kind], bm25, manifest(embedder, passages, kind))
        searcher = Searcher(index, lookup, config)
        qps[kind] = await compare(
            args.rounds,
            lambda kind=kind: raw_pass(dense[kind], qbatches),
            lambda s=searcher: sparring_pass(s, tbatches),
            n,
        )
        await searcher.aclose()
    index = SearchIndex(passages, dense["flat"], bm25, manifest(embedder, passages, "flat"))
    real = Searcher(index, embedder, config)
    qps["flat_with_embedding"] = await compare(
        max(3, args.rounds // 3),
        lambda: raw_embedding_pass(dense["flat"], embedder, tbatches),
        lambda: sparring_pass(real, tbatches),
        n,
    )
    await real.aclose()
    return qps


def manifest(embedder: Embedder, passages: list[Passage], kind: DenseKind) -> IndexManifest:
    """The manifest of an index assembled here from parts built once and timed apart."""
    return IndexManifest(
        model=embedder.name,
        dim=embedder.dim,
        count=len(passages),
        kind=kind,
        dense=DenseConfig(kind=kind),
        bm25=True,
        built_at=time.time(),
    )


def recall(exact: np.ndarray, approx: np.ndarray) -> float:
    hits = [len(set(e.tolist()) & set(a.tolist())) for e, a in zip(exact, approx, strict=True)]
    return sum(hits) / exact.size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=640)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()

    passages = make_corpus(args.passages)
    queries = make_queries(passages, args.queries)
    embedder = Embedder.minilm()
    per_10k = 10_000 / len(passages)

    embed_s, vectors = timed(lambda: embed_passages(passages, embedder))
    build = {"embed": embed_s * per_10k}
    dense: dict[str, Any] = {}
    for kind in ("flat", "ivf", "hnsw"):
        seconds, dense[kind] = timed(lambda kind=kind: build_dense(vectors, DenseConfig(kind=kind)))
        build[kind] = seconds * per_10k
    bm25_s, bm25 = timed(lambda: Bm25.build([p.indexed_text for p in passages]))
    build["bm25"] = bm25_s * per_10k
    qvectors = embedder.encode(queries)  # (Q, 384)

    _, exact = dense["flat"].search(qvectors, K)
    recalls = {kind: recall(exact, dense[kind].search(qvectors, K)[1]) for kind in ("ivf", "hnsw")}
    dense["ivf"].nprobe = 64  # what scanning 4x more lists buys
    recalls["ivf_nprobe64"] = recall(exact, dense["ivf"].search(qvectors, K)[1])
    qps = asyncio.run(throughput(args, embedder, passages, dense, bm25, queries, qvectors))
    n = len(batches(queries, args.batch)) * args.batch

    print(f"{len(passages)} passages, {n} queries, batch {args.batch}, top {K}")
    print(f"{'':24}{'raw q/s':>10}{'sparring q/s':>14}{'ratio':>8}")
    for name, row in qps.items():
        label = f"{name} (no embedding)" if "with" not in name else name.replace("_", " ")
        print(f"{label:24}{row['raw_qps']:10.0f}{row['sparring_qps']:14.0f}{row['ratio']:8.2f}")
    print("build s per 10k: " + ", ".join(f"{k} {v:.2f}" for k, v in build.items()))
    print("recall@10 vs exact: " + ", ".join(f"{k} {v:.3f}" for k, v in recalls.items()))
    result = {
        "bench": "search",
        "passages": len(passages),
        "queries": n,
        "batch": args.batch,
        "qps_ratio": round(qps["flat"]["ratio"], 3),
        "qps_ratio_hnsw": round(qps["hnsw"]["ratio"], 3),
        "qps_ratio_with_embedding": round(qps["flat_with_embedding"]["ratio"], 3),
        "qps": {
            k: {m: round(v, 3 if m == "ratio" else 1) for m, v in row.items()}
            for k, row in qps.items()
        },
        "build_s_per_10k": {k: round(v, 3) for k, v in build.items()},
        "recall_at_10": {k: round(v, 4) for k, v in recalls.items()},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
