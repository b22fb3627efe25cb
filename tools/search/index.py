"""A search index on disk: the passages, their faiss index, BM25 beside it, and a manifest.

    OUT/manifest.json   embedding model name and dimension, passage count, index kind and
                        settings, whether BM25 is there (written last: no manifest = unfinished)
    OUT/dense.faiss     the faiss index; row i is passage i
    OUT/passages.jsonl  the passages in row order (their ids are what results cite)
    OUT/bm25/           the bm25s index (unless built without it)

Loading checks that the pieces belong together and to the encoder given: vectors from one model
searched with queries from another return confident nonsense, so a mismatch is an error that
says what to do, never a warning.

    index = SearchIndex.build(passages, Embedder.minilm(), DenseConfig(kind="hnsw"))
    index.save(Path("indexes/world"))
    index = SearchIndex.load(Path("indexes/world"), Embedder.minilm())
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sparring.tools.search._progress import Bar
from sparring.tools.search.corpus import Passage, load_corpus, write_corpus
from sparring.tools.search.dense import DenseConfig, DenseKind, build_dense, kind_of, tune
from sparring.tools.search.embedder import Encoder
from sparring.tools.search.errors import SearchIndexError
from sparring.tools.search.lexical import Bm25

__all__ = ["IndexManifest", "SearchIndex"]

_EMBED_CHUNK = 1024  # passages per encode call while building: a bar step, bounded memory


class IndexManifest(BaseModel):
    """What an index folder holds, checked against the encoder and the files on load."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal[1] = Field(default=1, description="Layout version of the folder.")
    model: str = Field(description="Name of the embedding model the vectors came from.")
    dim: int = Field(ge=1, description="Vector dimension.")
    count: int = Field(ge=1, description="Passages (= vectors = BM25 documents).")
    kind: DenseKind = Field(description="The faiss index kind built.")
    dense: DenseConfig = Field(description="Build and search settings of the faiss index.")
    bm25: bool = Field(description="Whether a BM25 index is saved beside it.")
    built_at: float = Field(description="Unix time of the build.")


class SearchIndex:
    """Passages with their dense index and optional BM25; rows are positions in `passages`."""

    def __init__(
        self, passages: Sequence[Passage], dense: Any, bm25: Bm25 | None, manifest: IndexManifest
    ) -> None:
        self.passages = list(passages)
        self.dense = dense
        self.bm25 = bm25
        self.manifest = manifest

    @classmethod
    def build(
        cls,
        passages: Sequence[Passage],
        encoder: Encoder,
        config: DenseConfig | None = None,
        *,
        bm25: bool = True,
        progress: bool = False,
    ) -> SearchIndex:
        """Embed `passages` with `encoder` and index them (progress bars if `progress`)."""
        config = config or DenseConfig()
        vectors = embed_passages(passages, encoder, progress=progress)
        with Bar("faiss", len(passages), "vectors", progress) as bar:
            dense = build_dense(vectors, config, on_added=bar.advance)
        lexical = None
        if bm25:
            with Bar("bm25", len(passages), "passages", progress) as bar:
                lexical = Bm25.build([p.indexed_text for p in passages])
                bar.advance(len(passages))
        manifest = IndexManifest(
            model=encoder.name,
            dim=encoder.dim,
            count=len(passages),
            kind=kind_of(dense),
            dense=config,
            bm25=bm25,
            built_at=time.time(),
        )
        return cls(passages, dense, lexical, manifest)

    def save(self, out: Path) -> None:
        """Write the index into folder `out` (created; an older index there is replaced)."""
        manifest_path = out / "manifest.json"
        if out.exists() and not out.is_dir():
            raise SearchIndexError(out, "is a file, not a folder: pick another")
        if out.exists() and any(out.iterdir()) and not manifest_path.exists():
            raise SearchIndexError(out, "the folder is not empty and holds no index: pick another")
        out.mkdir(parents=True, exist_ok=True)
        manifest_path.unlink(missing_ok=True)  # a build cut short leaves no manifest behind
        faiss.write_index(self.dense, str(out / "dense.faiss"))
        write_corpus(out / "passages.jsonl", self.passages)
        shutil.rmtree(out / "bm25", ignore_errors=True)
        if self.bm25 is not None:
            self.bm25.save(out / "bm25")
        manifest_path.write_text(self.manifest.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, path: Path, encoder: Encoder) -> SearchIndex:
        """The index saved in `path`, checked whole and against `encoder`'s model."""
        manifest = _read_manifest(path)
        if (manifest.model, manifest.dim) != (encoder.name, encoder.dim):
            raise SearchIndexError(
                path,
                f"built with embedding model {manifest.model!r} ({manifest.dim} dims), but the "
                f"encoder given is {encoder.name!r} ({encoder.dim} dims): search it with the "
                f"model it was built with, or rebuild it with `sparring index CORPUS {path}`",
            )
        dense = _read_dense(path, manifest)
        passages = load_corpus(path / "passages.jsonl")
        bm25 = Bm25.load(path / "bm25") if manifest.bm25 else None
        counts = {"passages.jsonl": len(passages), "bm25/": bm25.count if bm25 else None}
        for name, count in counts.items():
            if count is not None and count != manifest.count:
                raise SearchIndexError(
                    path,
                    f"{name} holds {count} passages, the manifest {manifest.count}: the folder "
                    f"mixes two builds; rebuild it with `sparring index CORPUS {path}`",
                )
        return cls(passages, dense, bm25, manifest)


def embed_passages(
    passages: Sequence[Passage], encoder: Encoder, *, progress: bool = False
) -> np.ndarray:
    """Unit vectors of every passage's indexed text, (N, dim) float32, in chunks."""
    parts: list[np.ndarray] = []
    with Bar("embedding", len(passages), "passages", progress) as bar:
        for start in range(0, len(passages), _EMBED_CHUNK):
            chunk = passages[start : start + _EMBED_CHUNK]
            parts.append(encoder.encode([p.indexed_text for p in chunk]))
            bar.advance(len(chunk))
    return np.concatenate(parts)


def _read_manifest(path: Path) -> IndexManifest:
    rebuild = f"build it with `sparring index CORPUS {path}`"
    if not path.is_dir():
        raise SearchIndexError(path, f"no such folder; {rebuild}")
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise SearchIndexError(
            path, f"no manifest.json: not a search index, or its build did not finish; {rebuild}"
        )
    try:
        return IndexManifest.model_validate(json.loads(manifest_path.read_text()))
    except (json.JSONDecodeError, ValidationError) as e:
        problem = str(e).splitlines()[0]
        raise SearchIndexError(
            path, f"manifest.json is unreadable ({problem}); {rebuild}"
        ) from None


def _read_dense(path: Path, manifest: IndexManifest) -> Any:
    file = path / "dense.faiss"
    if not file.is_file():
        raise SearchIndexError(path, "dense.faiss is missing; rebuild with `sparring index`")
    dense = faiss.read_index(str(file))
    if (dense.ntotal, dense.d, kind_of(dense)) != (manifest.count, manifest.dim, manifest.kind):
        raise SearchIndexError(
            path,
            f"dense.faiss holds {dense.ntotal} {kind_of(dense)} vectors of {dense.d} dims, the "
            f"manifest says {manifest.count} {manifest.kind} of {manifest.dim}: the folder "
            f"mixes two builds; rebuild it with `sparring index CORPUS {path}`",
        )
    tune(dense, manifest.dense)
    return dense
