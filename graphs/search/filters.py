"""The proposer's validity filters: cheap checks in code, run before any verifier or solver.

A proposal is the proposer's tool-loop trajectory: its searches and the question it wrote inside
`<answer>...</answer>`. The answer tag carries the question because it is the tool loop's one
terminal tag (roles/tool_loop.py): a `<question>` tag would read as a call to an unknown tool.

The checks, in order, each a `Check` with its reason (all are reported, for the inspector):

- format: the loop ended with an answer tag holding text (not a malformed call, a turn limit, ...);
- length: the question has between `question_min_chars` and `question_max_chars` characters;
- answer_hidden: the gold answer does not appear in the question, raw (case-insensitive) or as a
  run of SQuAD-normalised tokens (a question that states its answer teaches nothing);
- searches: at least n distinct searches, n the hop count the task asked for (SSP asks its
  proposer for a number of search calls; fewer means the question was not researched);
- distinct_queries: no query repeated (after normalisation): repeats pad the count.

A proposal passes only if every check passes; then the RAG verifier runs (verifier.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from sparring.graphs.search.config import SearchGameConfig
from sparring.tools.answer import normalize_answer

__all__ = ["Check", "check_proposal", "normalise_query", "passed"]


class Check(BaseModel):
    """One validity check of a proposal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Which check: format, length, answer_hidden, searches, ...")
    ok: bool = Field(description="Whether the proposal passed it.")
    reason: str = Field(description="Why, in words.")


def normalise_query(query: str) -> str:
    """A query as compared for repeats: lowercase, single spaces, no punctuation or articles."""
    return normalize_answer(query)


def passed(checks: Sequence[Check]) -> bool:
    """Whether every check passed."""
    return all(c.ok for c in checks)


def check_proposal(
    outcome: str,
    question: str | None,
    queries: Sequence[str],
    answer: str,
    hops: int,
    cfg: SearchGameConfig,
) -> list[Check]:
    """Every validity check of a proposal (see the module docstring)."""
    text = (question or "").strip()
    checks = [_format(outcome, text)]
    checks.append(_length(text, cfg))
    checks.append(_hidden(text, answer))
    normal = [normalise_query(q) for q in queries]
    distinct = len(set(normal))
    checks.append(
        Check(
            name="searches",
            ok=distinct >= hops,
            reason=f"{distinct} distinct searches of {hops} required",
        )
    )
    repeats = sorted({q for q in normal if normal.count(q) > 1})
    checks.append(
        Check(
            name="distinct_queries",
            ok=not repeats,
            reason=f"repeated queries: {repeats}"
            if repeats
            else f"{len(normal)} queries, none repeated",
        )
    )
    return checks


def _format(outcome: str, text: str) -> Check:
    if outcome != "answer":
        return Check(
            name="format", ok=False, reason=f"no <answer> question: the loop ended {outcome}"
        )
    if not text:
        return Check(name="format", ok=False, reason="the <answer> tag is empty")
    return Check(name="format", ok=True, reason="a question in <answer>")


def _length(text: str, cfg: SearchGameConfig) -> Check:
    lo, hi = cfg.question_min_chars, cfg.question_max_chars
    ok = lo <= len(text) <= hi
    return Check(name="length", ok=ok, reason=f"{len(text)} characters (bounds {lo}..{hi})")


def _hidden(text: str, answer: str) -> Check:
    if shows_answer(answer, text):
        return Check(name="answer_hidden", ok=False, reason=f"the question contains {answer!r}")
    return Check(name="answer_hidden", ok=True, reason="the answer is not in the question")


def shows_answer(answer: str, question: str) -> bool:
    """Whether `answer` appears in `question`, raw or as a run of normalised tokens."""
    if answer.strip() and answer.strip().lower() in question.lower():
        return True
    words, run = normalize_answer(question).split(), normalize_answer(answer).split()
    if not run:
        return False
    return any(words[i : i + len(run)] == run for i in range(len(words) - len(run) + 1))
