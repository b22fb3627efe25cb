"""Encyclopedia articles: each entity's facts, one plain sentence per fact.

An article is a corpus record `{"id", "title", "text"}`, the layout of the Wikipedia passage
dumps Search-R1 and Search Self-Play retrieve from, so the same search tool reads this world and
a user's real corpus. The text states every fact whose subject is the entity, in the order of
`SPECS`, and nothing else:

    Baro Kelotin was born in Misadel. Baro Kelotin was born in 1801. Baro Kelotin is a member of
    the Orun Guild.

People, organisations and events have three facts each, cities and countries one, so an article
is one to three short sentences: short enough for a tiny model's context, and a hop of a
question is answered by reading one sentence of one article.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field

from sparring.tools.world.relations import SPECS, YEAR, Entity, Fact

__all__ = ["Article", "sentence", "vocabulary", "write_article"]

_WORD = re.compile(r"[A-Za-z]+|[0-9]+")
_ORDER = {relation: i for i, relation in enumerate(SPECS)}


class Article(BaseModel):
    """One passage of a corpus. Extra keys of a real corpus's records (a url, a score) are
    ignored on load rather than refused, so a user's dump loads unchanged."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(description="Passage id; in the fictional world, the entity's id.")
    title: str = Field(description="Title; in the fictional world, the entity's name.")
    text: str = Field(description="The passage text.")


def sentence(fact: Fact, entities: Mapping[str, Entity]) -> str:
    """The plain sentence that states `fact`, capitalised: "The Orun Guild is based in Amsel."."""
    spec = SPECS[fact.relation]
    target = fact.target if spec.target == YEAR else entities[fact.target].mention
    text = spec.sentence.format(s=entities[fact.subject].mention, t=target)
    return text[0].upper() + text[1:]


def write_article(entity: Entity, facts: Iterable[Fact], entities: Mapping[str, Entity]) -> Article:
    """The article of `entity`: one sentence per fact about it, in the order of `SPECS`."""
    ordered = sorted(facts, key=lambda fact: _ORDER[fact.relation])
    text = " ".join(sentence(fact, entities) for fact in ordered)
    return Article(id=entity.id, title=entity.name, text=text)


def vocabulary(articles: Iterable[Article]) -> tuple[str, ...]:
    """Every word and number in the articles' titles and texts and in the question wording,
    sorted: the whole vocabulary a word-level tokenizer needs for this world."""
    words: set[str] = set()
    for article in articles:
        words.update(_WORD.findall(article.title))
        words.update(_WORD.findall(article.text))
    for spec in SPECS.values():
        for template in (spec.sentence, spec.question, spec.phrase or ""):
            words.update(w for w in _WORD.findall(template) if w not in ("s", "t"))
    return tuple(sorted(words))
