"""The schema of the fictional world: entity kinds, typed relations, and how each is worded.

Every relation is functional: a subject has exactly one target for it (one birthplace, one
founder, one founding year). That is what makes a chained question unambiguous by
construction: "In which city was the founder of the Orun Guild born?" follows founded_by then
born_in, each with one value, so the answer is one city. The world builder enforces it and
`World` refuses a fact table that breaks it.

Each relation carries its wording, so articles and questions come from one table:

- `sentence`: the one plain sentence an article states the fact in ("{s} was founded by {t}.");
- `question`: the question that asks for the target ("Who founded {s}?");
- `phrase`: the noun phrase that names the target inside a longer question ("the founder of
  {s}"); only relations whose target is an entity have one, since a year cannot be the subject
  of the next hop.

A target is an entity id, or for the year relations the year's digits ("1843").
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SPECS", "YEAR", "Entity", "Fact", "Kind", "Relation", "RelationSpec"]

YEAR: Literal["year"] = "year"
"""The target type of the dated relations: a year literal, not an entity."""


class Kind(StrEnum):
    """What an entity is; each kind has its own relations and its own article shape."""

    PERSON = "person"
    CITY = "city"
    COUNTRY = "country"
    ORGANISATION = "organisation"
    EVENT = "event"


class Relation(StrEnum):
    """The typed relations of the fact table."""

    BORN_IN = "born_in"
    BORN_IN_YEAR = "born_in_year"
    MEMBER_OF = "member_of"
    FOUNDED_BY = "founded_by"
    FOUNDED_IN = "founded_in"
    BASED_IN = "based_in"
    LOCATED_IN = "located_in"
    CAPITAL = "capital"
    HELD_IN = "held_in"
    HELD_IN_YEAR = "held_in_year"
    ORGANISED_BY = "organised_by"


class RelationSpec(BaseModel):
    """One relation's types and wording; `{s}` is the subject, `{t}` the target."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    relation: Relation = Field(description="The relation this row describes.")
    subject: Kind = Field(description="Kind of entity the relation starts from.")
    target: Kind | Literal["year"] = Field(description="Kind of the target, or a year literal.")
    sentence: str = Field(description="The article sentence stating the fact.")
    question: str = Field(description="The question whose answer is the target.")
    phrase: str | None = Field(description="Noun phrase naming the target; None for years.")


def _spec(
    relation: Relation,
    subject: Kind,
    target: Kind | Literal["year"],
    sentence: str,
    question: str,
    phrase: str | None = None,
) -> RelationSpec:
    return RelationSpec(
        relation=relation,
        subject=subject,
        target=target,
        sentence=sentence,
        question=question,
        phrase=phrase,
    )


_R, _K = Relation, Kind
SPECS: dict[Relation, RelationSpec] = {
    s.relation: s
    for s in (
        _spec(
            _R.BORN_IN,
            _K.PERSON,
            _K.CITY,
            "{s} was born in {t}.",
            "In which city was {s} born?",
            "the birthplace of {s}",
        ),
        _spec(
            _R.BORN_IN_YEAR, _K.PERSON, YEAR, "{s} was born in {t}.", "In which year was {s} born?"
        ),
        _spec(
            _R.MEMBER_OF,
            _K.PERSON,
            _K.ORGANISATION,
            "{s} is a member of {t}.",
            "Which organisation is {s} a member of?",
            "the organisation {s} belongs to",
        ),
        _spec(
            _R.FOUNDED_BY,
            _K.ORGANISATION,
            _K.PERSON,
            "{s} was founded by {t}.",
            "Who founded {s}?",
            "the founder of {s}",
        ),
        _spec(
            _R.FOUNDED_IN,
            _K.ORGANISATION,
            YEAR,
            "{s} was founded in {t}.",
            "In which year was {s} founded?",
        ),
        _spec(
            _R.BASED_IN,
            _K.ORGANISATION,
            _K.CITY,
            "{s} is based in {t}.",
            "In which city is {s} based?",
            "the home city of {s}",
        ),
        _spec(
            _R.LOCATED_IN,
            _K.CITY,
            _K.COUNTRY,
            "{s} is a city in {t}.",
            "In which country is {s}?",
            "the country of {s}",
        ),
        _spec(
            _R.CAPITAL,
            _K.COUNTRY,
            _K.CITY,
            "The capital of {s} is {t}.",
            "What is the capital of {s}?",
            "the capital of {s}",
        ),
        _spec(
            _R.HELD_IN,
            _K.EVENT,
            _K.CITY,
            "{s} was held in {t}.",
            "In which city was {s} held?",
            "the host city of {s}",
        ),
        _spec(
            _R.HELD_IN_YEAR, _K.EVENT, YEAR, "{s} was held in {t}.", "In which year was {s} held?"
        ),
        _spec(
            _R.ORGANISED_BY,
            _K.EVENT,
            _K.ORGANISATION,
            "{s} was organised by {t}.",
            "Which organisation organised {s}?",
            "the organiser of {s}",
        ),
    )
}
"""Every relation's row, in the order an article states its facts."""


class Entity(BaseModel):
    """A person, place, organisation or event of the world; its article has the same id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Stable id, e.g. 'person-12'; also the id of its article.")
    kind: Kind = Field(description="What the entity is.")
    name: str = Field(description="Its name and article title, e.g. 'Orun Guild'.")

    @property
    def mention(self) -> str:
        """How a sentence names it mid-sentence: organisations and events take 'the'."""
        if self.kind in (Kind.ORGANISATION, Kind.EVENT):
            return f"the {self.name}"
        return self.name


class Fact(BaseModel):
    """One typed triple of the fact table."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(description="Id of the entity the fact is about.")
    relation: Relation = Field(description="The typed relation.")
    target: str = Field(description="Id of the target entity, or a year's digits.")
