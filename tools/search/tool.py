"""The search tool as the tool loop calls it: query text in, short "[title] text" lines out.

`roles/tool_loop.py` takes tools as `name -> callable(str) -> str`; a `SearchTool` is one, so
`<search>who founded the guild?</search>` in a trajectory comes back as

    <result>[Velmora Guild] The Velmora Guild was founded in 1412 by Oren Pell ...
    [Oren Pell] Oren Pell was a weaver born in ...</result>

Each passage is cut to `max_chars` at a word boundary: a tiny model's context is a few hundred
tokens, and every result token is context it cannot spend on reasoning. The full hits of every
call are kept in `calls` (the search game's verifier reads all documents a proposer saw; the
inspector shows ids and titles).

    tool = SearchTool(searcher, k=3)
    result = await run_tool_loop(policy, "solver", prompt, {"search": tool}, params)
    tool.documents   # every distinct passage retrieved in this episode, in order
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import JsonValue

from sparring.tools.output import ToolOutput
from sparring.tools.search.searcher import Hit, SearchMode

__all__ = ["NO_RESULTS", "SearchTool", "Searches", "format_hits"]

NO_RESULTS = "no results"


class Searches(Protocol):
    """What a SearchTool searches: a corpus's `Searcher`, or a `DocumentSearcher` over a few."""

    async def search(
        self, query: str, k: int | None = None, mode: SearchMode | None = None
    ) -> list[Hit]: ...


def format_hits(hits: Sequence[Hit], max_chars: int = 200) -> str:
    """One `[title] text` line per hit, each text cut to `max_chars` at a word boundary."""
    if not hits:
        return NO_RESULTS
    return "\n".join(f"[{h.title}] {_cut(' '.join(h.text.split()), max_chars)}" for h in hits)


class SearchTool:
    """A tool-loop tool over a shared Searcher (or any `Searches`), recording what each of its
    calls returned.

    Make one per episode (the Searcher, and its batching, is shared by all of them).
    """

    def __init__(
        self,
        searcher: Searches,
        k: int | None = None,
        mode: SearchMode | None = None,
        max_chars: int = 200,
    ) -> None:
        self.searcher = searcher
        self.k = k
        self.mode = mode
        self.max_chars = max_chars
        self.calls: list[tuple[str, list[Hit]]] = []
        """(query, hits) of every call, in order."""

    async def __call__(self, query: str) -> ToolOutput:
        hits = await self.searcher.search(query, k=self.k, mode=self.mode)
        self.calls.append((query.strip(), hits))
        # The record keeps which passages came back (the inspector's "documents returned");
        # the model reads only the formatted lines.
        data: dict[str, JsonValue] = {
            "hits": [{"id": h.id, "title": h.title, "score": round(h.score, 4)} for h in hits]
        }
        return ToolOutput(format_hits(hits, self.max_chars), data)

    @property
    def documents(self) -> list[Hit]:
        """Every distinct passage (by id) any call returned, first retrieval first."""
        seen: dict[str, Hit] = {}
        for _, hits in self.calls:
            for hit in hits:
                seen.setdefault(hit.id, hit)
        return list(seen.values())


def _cut(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    head = text[: max_chars - 3]
    space = head.rfind(" ")
    return (head[:space] if space > max_chars // 2 else head).rstrip() + "..."
