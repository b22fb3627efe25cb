"""Multi-hop questions from the fact table, each with its gold answer and the chain that finds it.

A question of k hops follows a path of k relations from a start entity; every relation before
the last has an entity target, which becomes the subject of the next hop, and the wording
nests their phrases inside the last relation's question:

    organisation-3 -founded_by-> person-41 -born_in-> city-7
    "In which city was the founder of the Orun Guild born?"   answer "Misadel"

The chain keeps, per hop, the article to search for (its title and id), the sentence of it that
states the fact, and the value read there, so an oracle writes a demonstration hop by hop:
search "Orun Guild", read "founded by Baro Kelotin", search "Baro Kelotin", read "born in
Misadel", answer. Hop i needs the article of hop i's subject, so `titles` lists what each
search must find.

Unambiguous by construction: relations are functional (see relations.py) and names unique, so
the answer is the one value at the end of the path. A path instance is refused when it visits
an entity twice ("the capital of the country of Misadel" may be Misadel itself) or when the
answer's words appear in the question, the validity rule of the search game.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterator

from pydantic import BaseModel, ConfigDict, Field

from sparring.tools.answer import normalize_answer
from sparring.tools.world.relations import SPECS, YEAR, Entity, Kind, Relation
from sparring.tools.world.world import World

__all__ = ["Hop", "Question", "ask", "make_questions", "relation_paths"]

_LOOPS = {
    (Relation.FOUNDED_BY, Relation.MEMBER_OF),  # a founder belongs to what they founded
    (Relation.CAPITAL, Relation.LOCATED_IN),  # a capital lies in its own country
}
"""Relation pairs that lead back to where they started in every instance, left out of paths."""


class Hop(BaseModel):
    """One step of a question's chain: which article to read and what it says."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(description="Id of the entity this hop starts from.")
    relation: Relation = Field(description="The relation followed.")
    target: str = Field(description="Id of the entity reached, or a year's digits.")
    title: str = Field(description="Title of the article to search for (the subject's name).")
    article_id: str = Field(description="Id of that article.")
    evidence: str = Field(description="The sentence of that article that states the fact.")
    value: str = Field(description="What the hop reads: the target's name, or the year.")


class Question(BaseModel):
    """A question with one checkable answer and the chain of facts that answers it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Stable id: start entity and relation path.")
    text: str = Field(description="The question as a solver reads it.")
    hops: int = Field(ge=1, description="Number of facts chained, = searches an oracle needs.")
    answers: tuple[str, ...] = Field(min_length=1, description="Gold answers for EM and F1.")
    answer_id: str | None = Field(description="Id of the answer entity; None for a year.")
    chain: tuple[Hop, ...] = Field(description="The hops, first to last.")

    @property
    def titles(self) -> tuple[str, ...]:
        """The article title each hop's search must find, in order."""
        return tuple(hop.title for hop in self.chain)

    @property
    def article_ids(self) -> tuple[str, ...]:
        """The ids of the articles the chain reads, in order."""
        return tuple(hop.article_id for hop in self.chain)


def relation_paths(hops: int) -> tuple[tuple[Relation, ...], ...]:
    """Every chain of `hops` relations whose kinds connect, years only at the end."""
    if hops < 1:
        raise ValueError(f"a question has at least one hop, not {hops}")
    paths: list[tuple[Relation, ...]] = [(r,) for r in SPECS]
    for _ in range(hops - 1):
        paths = [
            (*path, nxt)
            for path in paths
            for nxt in SPECS
            if SPECS[path[-1]].target == SPECS[nxt].subject and (path[-1], nxt) not in _LOOPS
        ]
    return tuple(paths)


def ask(world: World, start: str, path: tuple[Relation, ...]) -> Question | None:
    """The question that follows `path` from entity `start`, or None if that instance loops
    back on an entity or would show its answer in the question."""
    subjects, subject, seen = [], start, {start}
    for relation in path:
        subjects.append(subject)
        target = world.target(subject, relation)
        if target is None or target in seen:
            return None
        seen.add(target)
        subject = target
    text = _wording(world.entity(start), path)
    answer = world.surface(path[-1], subject)
    if _shows(answer, text):
        return None
    hops = [
        _hop(world, s, r, t)
        for s, r, t in zip(subjects, path, [*subjects[1:], subject], strict=True)
    ]
    return Question(
        id=f"{start}:{'.'.join(path)}",
        text=text,
        hops=len(path),
        answers=(answer,),
        answer_id=None if SPECS[path[-1]].target == YEAR else subject,
        chain=tuple(hops),
    )


def make_questions(
    world: World, hops: int, count: int, *, seed: int = 0, exclude: Collection[str] = ()
) -> tuple[Question, ...]:
    """Up to `count` distinct questions of `hops` hops, drawn in turn from every relation path
    so each kind of chain is represented; the same arguments give the same questions. Ids in
    `exclude` are skipped (e.g. a held-out set kept out of warm-up). Fewer come back only
    when the world has no more valid ones."""
    rng, skip = random.Random(f"questions/{hops}/{seed}"), frozenset(exclude)
    orders = {kind: _shuffled(world.of_kind(kind), rng) for kind in Kind}
    streams = [
        _instances(world, path, _rotated(orders[SPECS[path[0]].subject], rng))
        for path in relation_paths(hops)
    ]
    found: list[Question] = []
    while streams and len(found) < count:
        alive = []
        for stream in streams:
            question = next((q for q in stream if q.id not in skip), None)
            if question is None:
                continue
            alive.append(stream)
            if len(found) < count:
                found.append(question)
        streams = alive
    return tuple(found)


def _instances(world: World, path: tuple[Relation, ...], starts: list[str]) -> Iterator[Question]:
    """Valid questions along `path`, from each start entity in turn."""
    for start in starts:
        question = ask(world, start, path)
        if question is not None:
            yield question


def _shuffled(entities: tuple[Entity, ...], rng: random.Random) -> list[str]:
    """One shuffle per kind, shared by its paths (a shuffle per path costs seconds at 100k)."""
    ids = [e.id for e in entities]
    rng.shuffle(ids)
    return ids


def _rotated(order: list[str], rng: random.Random) -> list[str]:
    """The shared order from a random point, so paths of one kind start from other entities."""
    offset = rng.randrange(len(order)) if order else 0
    return order[offset:] + order[:offset]


def _hop(world: World, subject: str, relation: Relation, target: str) -> Hop:
    article = world.article(subject)
    return Hop(
        subject=subject,
        relation=relation,
        target=target,
        title=article.title,
        article_id=article.id,
        evidence=world.sentence(subject, relation),
        value=world.surface(relation, target),
    )


def _wording(start: Entity, path: tuple[Relation, ...]) -> str:
    """Nest the phrases of all but the last relation inside the last one's question."""
    phrase = start.mention
    for relation in path[:-1]:
        inner = SPECS[relation].phrase
        assert inner is not None, "relation_paths puts year relations last"
        phrase = inner.format(s=phrase)
    return SPECS[path[-1]].question.format(s=phrase)


def _shows(answer: str, question: str) -> bool:
    """Whether the answer appears in the question, raw or as a run of normalised tokens."""
    if answer.lower() in question.lower():
        return True
    words, run = normalize_answer(question).split(), normalize_answer(answer).split()
    return any(words[i : i + len(run)] == run for i in range(len(words) - len(run) + 1))
