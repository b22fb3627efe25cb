"""The generated world: entities, the fact table, and one article per entity, from a seed.

    world = build_world(articles=300, seed=0)
    world.target("organisation-3", Relation.FOUNDED_BY)   # -> "person-41"
    world.articles[0]                                     # Article(id=..., title=..., text=...)

The same `(articles, seed)` gives the same world, byte for byte, on every machine: one
`random.Random(seed)` draws everything, in a fixed order, and nothing iterates over a set.

Shares of the article count: 3% countries, 12% cities, 18% organisations, 12% events, the rest
(55%) people, with at least two of each place and organisation kind. The years are consistent:
a founder is 20 to 60 years old when founding, an event comes 1 to 60 years after its
organiser's founding. Founders are distinct people and each is a member of what they founded,
so "the organisation Baro Kelotin belongs to" never means two things.

`World` checks its invariants when built (each subject has one target per relation, the target
has the relation's kind, names are unique after answer normalisation) and raises `WorldError`:
every question the world asks then has exactly one answer.
"""

from __future__ import annotations

import random
from collections import defaultdict

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from sparring.tools.answer import normalize_answer
from sparring.tools.world.articles import Article, sentence, write_article
from sparring.tools.world.errors import WorldError
from sparring.tools.world.names import EVENT_TYPES, ORGANISATION_TYPES, NameMaker
from sparring.tools.world.relations import SPECS, YEAR, Entity, Fact, Kind, Relation

__all__ = ["World", "WorldConfig", "build_world"]

_SHARES: dict[Kind, float] = {
    Kind.COUNTRY: 0.03,
    Kind.CITY: 0.12,
    Kind.ORGANISATION: 0.18,
    Kind.EVENT: 0.12,
}


class WorldConfig(BaseModel):
    """What a world is generated from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    articles: int = Field(
        default=300, ge=20, le=2_000_000, description="Articles (= entities) in the world."
    )
    seed: int = Field(default=0, description="Seed of the one random generator behind it all.")


class World(BaseModel):
    """Entities, their typed facts and their articles, with look-ups by id and relation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    config: WorldConfig = Field(description="What the world was generated from.")
    entities: tuple[Entity, ...] = Field(description="Every entity, in generation order.")
    facts: tuple[Fact, ...] = Field(description="The fact table: typed triples.")
    articles: tuple[Article, ...] = Field(description="One article per entity, same order.")

    _by_id: dict[str, Entity] = PrivateAttr(default_factory=dict)
    _targets: dict[tuple[str, Relation], str] = PrivateAttr(default_factory=dict)
    _by_kind: dict[Kind, tuple[Entity, ...]] = PrivateAttr(default_factory=dict)
    _articles: dict[str, Article] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: object, /) -> None:
        # Locals, assigned once at the end: a private attribute read costs a pydantic
        # __getattr__, which made indexing 100k articles take seconds.
        by_id = {e.id: e for e in self.entities}
        kinds: dict[Kind, list[Entity]] = defaultdict(list)
        for entity in self.entities:
            kinds[entity.kind].append(entity)
        self._by_id = by_id
        self._by_kind = {kind: tuple(kinds[kind]) for kind in Kind}
        self._articles = {a.id: a for a in self.articles}
        self._targets = _index(self.facts, by_id)
        _check_names(self.entities)

    def entity(self, entity_id: str) -> Entity:
        """The entity with this id (KeyError if none)."""
        return self._by_id[entity_id]

    def of_kind(self, kind: Kind) -> tuple[Entity, ...]:
        """Every entity of one kind, in generation order."""
        return self._by_kind[kind]

    def article(self, article_id: str) -> Article:
        """The article with this id, which is its entity's id."""
        return self._articles[article_id]

    def target(self, subject: str, relation: Relation) -> str | None:
        """The one target of `relation` from `subject` (an id or a year), None if it has none."""
        return self._targets.get((subject, relation))

    def sentence(self, subject: str, relation: Relation) -> str:
        """The sentence of `subject`'s article that states its `relation` fact."""
        target = self._targets[(subject, relation)]
        return sentence(Fact(subject=subject, relation=relation, target=target), self._by_id)

    def surface(self, relation: Relation, target: str) -> str:
        """How an answer is written: a target entity's name, or the year itself."""
        return target if SPECS[relation].target == YEAR else self._by_id[target].name


def _index(facts: tuple[Fact, ...], by_id: dict[str, Entity]) -> dict[tuple[str, Relation], str]:
    """Targets by (subject, relation), refusing a second target or a target of the wrong kind."""
    targets: dict[tuple[str, Relation], str] = {}
    for fact in facts:
        spec, key = SPECS[fact.relation], (fact.subject, fact.relation)
        if key in targets:
            raise WorldError(f"{fact.subject} has two targets for {fact.relation}")
        if by_id[fact.subject].kind != spec.subject:
            raise WorldError(f"{fact.relation} does not apply to {fact.subject}")
        if spec.target == YEAR:
            if not fact.target.isdigit():
                raise WorldError(f"{fact.relation} of {fact.subject} is not a year: {fact.target}")
        elif by_id[fact.target].kind != spec.target:
            raise WorldError(f"{fact.relation} of {fact.subject} must be a {spec.target}")
        targets[key] = fact.target
    return targets


def _check_names(entities: tuple[Entity, ...]) -> None:
    """Names must stay distinct after answer normalisation, or an answer names two things."""
    seen: dict[str, str] = {}
    for entity in entities:
        normal = normalize_answer(entity.name)
        if normal in seen:
            raise WorldError(f"{entity.id} and {seen[normal]} share the name '{normal}'")
        seen[normal] = entity.id


def build_world(articles: int = 300, *, seed: int = 0) -> World:
    """Generate the world of `articles` entities (and articles) from `seed`."""
    config = WorldConfig(articles=articles, seed=seed)
    rng = random.Random(seed)
    entities = _entities(config, rng)
    by_kind: dict[Kind, list[Entity]] = defaultdict(list)
    for entity in entities:
        by_kind[entity.kind].append(entity)
    facts = _facts(by_kind, rng)
    about: dict[str, list[Fact]] = defaultdict(list)
    for fact in facts:
        about[fact.subject].append(fact)
    index = {e.id: e for e in entities}
    texts = tuple(write_article(e, about[e.id], index) for e in entities)
    ordered = tuple(f for e in entities for f in about[e.id])
    return World(config=config, entities=tuple(entities), facts=ordered, articles=texts)


def _counts(total: int) -> dict[Kind, int]:
    """How many entities of each kind; people take what the other kinds leave."""
    counts = {kind: max(2, round(share * total)) for kind, share in _SHARES.items()}
    counts[Kind.CITY] = max(counts[Kind.CITY], 2 * counts[Kind.COUNTRY])
    counts[Kind.PERSON] = total - sum(counts.values())
    return counts


def _entities(config: WorldConfig, rng: random.Random) -> list[Entity]:
    """Named entities of every kind; all words unique across the world."""
    counts, names = _counts(config.articles), NameMaker(rng)
    named: dict[Kind, list[str]] = {
        Kind.COUNTRY: names.words(counts[Kind.COUNTRY]),
        Kind.CITY: names.words(counts[Kind.CITY]),
        Kind.ORGANISATION: [
            f"{w} {rng.choice(ORGANISATION_TYPES)}" for w in names.words(counts[Kind.ORGANISATION])
        ],
        Kind.EVENT: [f"{w} {rng.choice(EVENT_TYPES)}" for w in names.words(counts[Kind.EVENT])],
        Kind.PERSON: names.people(counts[Kind.PERSON]),
    }
    return [
        Entity(id=f"{kind}-{i}", kind=kind, name=name)
        for kind, kind_names in named.items()
        for i, name in enumerate(kind_names)
    ]


def _facts(by_kind: dict[Kind, list[Entity]], rng: random.Random) -> list[Fact]:
    """Draw every relation's target, in a fixed order, with consistent years."""
    countries, cities = by_kind[Kind.COUNTRY], by_kind[Kind.CITY]
    people, orgs, events = by_kind[Kind.PERSON], by_kind[Kind.ORGANISATION], by_kind[Kind.EVENT]
    facts: list[Fact] = []

    def add(subject: Entity, relation: Relation, target: str) -> None:
        facts.append(Fact(subject=subject.id, relation=relation, target=target))

    # Places: the first cities seed every country, so each has a capital in it.
    own: dict[str, list[Entity]] = defaultdict(list)
    for i, city in enumerate(cities):
        country = countries[i] if i < len(countries) else rng.choice(countries)
        own[country.id].append(city)
        add(city, Relation.LOCATED_IN, country.id)
    for country in countries:
        add(country, Relation.CAPITAL, rng.choice(own[country.id]).id)
    # People, then organisations founded by distinct people of working age.
    born: dict[str, int] = {}
    for person in people:
        born[person.id] = rng.randint(1700, 1950)
        add(person, Relation.BORN_IN, rng.choice(cities).id)
        add(person, Relation.BORN_IN_YEAR, str(born[person.id]))
    founded: dict[str, int] = {}
    member: dict[str, str] = {}
    for org, founder in zip(orgs, rng.sample(people, len(orgs)), strict=True):
        founded[org.id] = born[founder.id] + rng.randint(20, 60)
        member[founder.id] = org.id
        add(org, Relation.FOUNDED_BY, founder.id)
        add(org, Relation.FOUNDED_IN, str(founded[org.id]))
        add(org, Relation.BASED_IN, rng.choice(cities).id)
    for person in people:
        add(person, Relation.MEMBER_OF, member.get(person.id) or rng.choice(orgs).id)
    for event in events:
        organiser = rng.choice(orgs)
        add(event, Relation.HELD_IN, rng.choice(cities).id)
        add(event, Relation.HELD_IN_YEAR, str(founded[organiser.id] + rng.randint(1, 60)))
        add(event, Relation.ORGANISED_BY, organiser.id)
    return facts
