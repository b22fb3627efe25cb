"""Splitting the corpus into a "local" half and a "web" half, for hierarchical search.

HierSearch (arXiv 2508.08088) gives one agent a local knowledge base and another the web, and
asks questions that need both. Two ways to split:

- at random (the default): each article drawn to a side from a seed. A question needs both
  halves when the articles its chain reads fall on both sides: with half the articles on each
  side, a 2-hop question whose two articles differ needs both with probability 1/2 and a 3-hop
  one with 3/4.
- by kind (`local_kinds`): the articles of some entity kinds are local (an organisation's own
  records of its people and itself, say) and the rest web (places, events). Which side holds a
  fact then follows from what the question asks about, so a planner can learn whom to ask; at
  random no model could know.

`split_corpus` counts, on the actual questions and per hop count, how many need both.

    split = split_corpus(world, questions, local_fraction=0.5, seed=0)
    split = split_corpus(world, questions, local_kinds={Kind.PERSON, Kind.ORGANISATION})
    split.counts          # (HopCount(hops=1, questions=50, need_both=0), ...)
    split.needs_both(q)   # True when q's chain reads local and web articles
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sparring.tools.world.articles import Article
from sparring.tools.world.questions import Question
from sparring.tools.world.relations import Kind
from sparring.tools.world.world import World

__all__ = ["CorpusSplit", "Half", "HopCount", "split_corpus"]

Half = Literal["local", "web"]


class HopCount(BaseModel):
    """How many questions of one hop count need articles from both halves."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hops: int = Field(description="Hop count of these questions.")
    questions: int = Field(ge=0, description="Questions of this hop count.")
    need_both: int = Field(ge=0, description="Of them, those whose chain reads both halves.")


class CorpusSplit(BaseModel):
    """Which article ids are local and which are web, and what that means for the questions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    local: frozenset[str] = Field(description="Ids of the local half's articles.")
    web: frozenset[str] = Field(description="Ids of the web half's articles.")
    counts: tuple[HopCount, ...] = Field(description="Per hop count, questions needing both.")

    def half(self, article_id: str) -> Half:
        """Which half an article is in (KeyError for an id in neither)."""
        if article_id in self.local:
            return "local"
        if article_id in self.web:
            return "web"
        raise KeyError(article_id)

    def halves(self, question: Question) -> frozenset[Half]:
        """The halves a question's chain reads from."""
        return frozenset(self.half(article_id) for article_id in question.article_ids)

    def needs_both(self, question: Question) -> bool:
        """Whether answering takes articles from both halves."""
        return len(self.halves(question)) == 2

    def articles(self, world: World, half: Half) -> tuple[Article, ...]:
        """The world's articles in one half, in the world's order (for `write_corpus`)."""
        ids = self.local if half == "local" else self.web
        return tuple(a for a in world.articles if a.id in ids)


def split_corpus(
    world: World,
    questions: Iterable[Question],
    *,
    local_fraction: float = 0.5,
    seed: int = 0,
    local_kinds: Collection[Kind] | None = None,
) -> CorpusSplit:
    """Draw `local_fraction` of the articles into the local half, the rest into the web half
    (or, with `local_kinds`, put the articles of those kinds local and the rest web), and count
    per hop count how many of `questions` need both."""
    if local_kinds is not None:
        kinds = set(local_kinds)
        if not kinds or kinds >= set(Kind):
            raise ValueError(
                f"local_kinds must name some entity kinds but not all, not {sorted(kinds)}"
            )
        local = frozenset(a.id for a in world.articles if world.entity(a.id).kind in kinds)
        split = CorpusSplit(
            local=local,
            web=frozenset(a.id for a in world.articles if a.id not in local),
            counts=(),
        )
    else:
        if not 0.0 < local_fraction < 1.0:
            raise ValueError(
                f"local_fraction must be strictly between 0 and 1, not {local_fraction}"
            )
        ids = [a.id for a in world.articles]
        random.Random(f"split/{seed}").shuffle(ids)
        cut = round(local_fraction * len(ids))
        split = CorpusSplit(local=frozenset(ids[:cut]), web=frozenset(ids[cut:]), counts=())
    totals: dict[int, list[int]] = {}
    for question in questions:
        row = totals.setdefault(question.hops, [0, 0])
        row[0] += 1
        row[1] += split.needs_both(question)
    counts = tuple(
        HopCount(hops=hops, questions=n, need_both=both)
        for hops, (n, both) in sorted(totals.items())
    )
    return split.model_copy(update={"counts": counts})
