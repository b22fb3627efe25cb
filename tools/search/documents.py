"""Search over a handful of given documents: the same call as `Searcher.search`, BM25 only.

The search game's RAG verifier may read only what the proposer retrieved plus some noise. A
tiny model cannot chain three hops across a shuffled context in one pass, but it has learned to
search one entity at a time; so the verifier runs that same tool loop over a searcher that holds
exactly those documents and nothing else (graphs/search/verifier.py says why this stays SSP's
check). Built per question: BM25 over ten documents indexes in about a millisecond.

    searcher = DocumentSearcher(documents)
    tool = SearchTool(searcher, k=1)   # what the tool loop calls
"""

from __future__ import annotations

from collections.abc import Sequence

from sparring.tools.errors import ToolError
from sparring.tools.search.lexical import Bm25
from sparring.tools.search.searcher import Hit, SearchMode

__all__ = ["DocumentSearcher"]


class DocumentSearcher:
    """BM25 over `documents` (title and text, as the corpus index reads a passage)."""

    def __init__(self, documents: Sequence[Hit]) -> None:
        self.documents = list(documents)
        texts = [f"{d.title}\n{d.text}" for d in self.documents]
        self._bm25 = Bm25.build(texts) if texts else None

    async def search(
        self, query: str, k: int | None = None, mode: SearchMode | None = None
    ) -> list[Hit]:
        """The best `k` (default 1) documents sharing a term with `query`, best first. Only BM25
        ranks here (a mode other than 'bm25' is read as it: there is no embedding to fuse)."""
        text = query.strip()
        if not text:
            raise ToolError("empty search query: write what to look for")
        if self._bm25 is None:
            return []
        rows, scores = self._bm25.top(text, k or 1)
        return [
            Hit(d.id, d.title, d.text, float(s))
            for d, s in zip((self.documents[int(r)] for r in rows), scores, strict=True)
        ]
