"""Corpus files: one JSON record `{"id", "title", "text"}` per line.

The layout of the Wikipedia passage dumps that Search-R1 and Search Self-Play index, so a search
index built over `write_corpus(path, world)` is built the same way over a user's own dump.
`load_corpus` reads either: it refuses a line that is not such a record (naming the file and
line) and a repeated id, reads an integer id as its decimal string and ignores extra keys a real
dump may carry, as the search tool's loader (sparring.tools.search.corpus) does. This module
keeps its own loader so that the world imports in milliseconds, without faiss and BM25.

    write_corpus("world.jsonl", build_world(300))
    articles = load_corpus("world.jsonl")
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import orjson
from pydantic import ValidationError

from sparring.tools.world.articles import Article
from sparring.tools.world.errors import CorpusError
from sparring.tools.world.world import World

__all__ = ["load_corpus", "write_corpus"]


def write_corpus(path: str | Path, corpus: World | Iterable[Article]) -> int:
    """Write a world's articles (or any articles) as JSONL; returns how many were written."""
    articles = corpus.articles if isinstance(corpus, World) else corpus
    count = 0
    with Path(path).open("wb") as out:
        for article in articles:
            out.write(orjson.dumps(article.model_dump()) + b"\n")
            count += 1
    return count


def load_corpus(path: str | Path) -> tuple[Article, ...]:
    """Every record of a JSONL corpus, in file order; blank lines are skipped."""
    where = str(path)
    try:
        lines = Path(path).read_bytes().splitlines()
    except OSError as e:
        raise CorpusError(f"cannot read the corpus: {e.strerror}", where) from None
    articles: list[Article] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        article = _record(line, where, number)
        if article.id in seen:
            raise CorpusError(f"id {article.id!r} repeats line {seen[article.id]}", where, number)
        seen[article.id] = number
        articles.append(article)
    return tuple(articles)


def _record(line: bytes, where: str, number: int) -> Article:
    """One line as an Article, or a CorpusError saying what is wrong with it."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        raise CorpusError(f"not JSON: {e}", where, number) from None
    if not isinstance(data, dict):
        raise CorpusError("a record must be a JSON object", where, number)
    if isinstance(data.get("id"), int) and not isinstance(data["id"], bool):
        data["id"] = str(data["id"])
    try:
        return Article.model_validate(data, strict=True)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()
        )
        raise CorpusError(f"not an id/title/text record ({problems})", where, number) from None
