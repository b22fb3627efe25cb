"""A search corpus: JSONL passages `{"id", "title", "text"}`, one a line.

This is the layout of the Wikipedia passage dumps that Search-R1 (arXiv 2503.09516) and SSP
(arXiv 2510.18821) retrieve from, so a user's real corpus loads unchanged. Keys other than the
three are ignored (dumps often carry a url or a section); an integer id is read as its decimal
string. Blank lines are skipped. Anything else is refused with the file and line number, so a
broken dump is fixed once instead of silently indexed without the lines that failed.

    passages = load_corpus(Path("world.jsonl"))
    passages[0].id, passages[0].title, passages[0].text
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from sparring.tools.search.errors import CorpusError

__all__ = ["Passage", "load_corpus", "write_corpus"]


class Passage(BaseModel):
    """One retrievable passage."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Unique id within the corpus (what results cite).")
    title: str = Field(description="The article the passage comes from.")
    text: str = Field(description="The passage text.")

    @property
    def indexed_text(self) -> str:
        """What is embedded and BM25-indexed: the title carries words the text leaves implicit."""
        return f"{self.title}\n{self.text}"


def load_corpus(path: Path) -> list[Passage]:
    """All passages of the JSONL file at `path`, in file order; CorpusError on any bad line."""
    if not path.is_file():
        raise CorpusError(path, None, "no such file")
    passages: list[Passage] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            passage = _parse_line(path, number, line)
            if passage.id in seen:
                raise CorpusError(
                    path, number, f"duplicate id {passage.id!r} (first on line {seen[passage.id]})"
                )
            seen[passage.id] = number
            passages.append(passage)
    if not passages:
        raise CorpusError(path, None, "holds no passages")
    return passages


def write_corpus(path: Path, passages: list[Passage]) -> None:
    """Write `passages` as JSONL that `load_corpus` reads back unchanged."""
    with path.open("w", encoding="utf-8") as f:
        for p in passages:
            f.write(json.dumps(p.model_dump(), ensure_ascii=False) + "\n")


def _parse_line(path: Path, number: int, line: str) -> Passage:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise CorpusError(path, number, f"not JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(row, dict):
        raise CorpusError(path, number, f"a JSON {type(row).__name__}, not an object")
    missing = [key for key in ("id", "title", "text") if key not in row]
    if missing:
        raise CorpusError(path, number, f"missing {', '.join(missing)} (needs id, title, text)")
    pid = row["id"]
    if isinstance(pid, int) and not isinstance(pid, bool):
        pid = str(pid)
    if not isinstance(pid, str) or not pid:
        raise CorpusError(path, number, f"id must be a non-empty string, got {row['id']!r}")
    for key in ("title", "text"):
        if not isinstance(row[key], str):
            raise CorpusError(
                path, number, f"{key} must be a string, got {type(row[key]).__name__}"
            )
    if not row["text"].strip():
        raise CorpusError(path, number, f"passage {pid!r} has empty text")
    return Passage(id=pid, title=row["title"], text=row["text"])
