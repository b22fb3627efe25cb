"""The fictional world: deterministic from its seed, every question answered once by its chain."""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import orjson
import pytest

from sparring.tools.answer import normalize_answer
from sparring.tools.world import (
    SPECS,
    Article,
    CorpusError,
    Entity,
    Fact,
    Kind,
    Question,
    Relation,
    World,
    WorldConfig,
    WorldError,
    ask,
    build_world,
    load_corpus,
    make_questions,
    relation_paths,
    split_corpus,
    vocabulary,
    write_corpus,
)
from sparring.tools.world.names import SYLLABLES
from sparring.tools.world.relations import YEAR

_NAME_WORD = re.compile(f"(?:{'|'.join(SYLLABLES)}){{2,3}}[nlr]?")


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(300, seed=0)


@pytest.fixture(scope="module")
def big() -> World:
    return build_world(3000, seed=1)


@pytest.fixture(scope="module")
def questions(big: World) -> dict[int, tuple[Question, ...]]:
    return {hops: make_questions(big, hops, 300, seed=0) for hops in (1, 2, 3)}


def _digest(world: World) -> str:
    blob = b"".join(orjson.dumps(a.model_dump()) for a in world.articles)
    return hashlib.sha256(blob).hexdigest()


# --- determinism and size -------------------------------------------------------------------


def test_the_same_seed_builds_the_same_world_and_another_seed_a_different_one() -> None:
    a, b, c = build_world(300, seed=7), build_world(300, seed=7), build_world(300, seed=8)
    assert a == b
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)
    assert {e.name for e in a.entities} != {e.name for e in c.entities}


def test_the_world_does_not_depend_on_the_process_hash_seed(world: World) -> None:
    code = (
        "import hashlib, orjson; from sparring.tools.world import build_world; "
        "w = build_world(300, seed=0); "
        "print(hashlib.sha256(b''.join(orjson.dumps(a.model_dump()) for a in w.articles))"
        ".hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == _digest(world)


def test_a_demo_world_builds_well_under_a_second() -> None:
    start = time.process_time()
    built = build_world(500, seed=3)
    assert time.process_time() - start < 0.5
    assert len(built.articles) == 500


@pytest.mark.parametrize("size", [20, 300, 3000])
def test_there_is_one_article_per_entity_and_every_kind_is_present(size: int) -> None:
    built = build_world(size, seed=0)
    assert len(built.entities) == len(built.articles) == size
    assert [a.id for a in built.articles] == [e.id for e in built.entities]
    assert all(len(built.of_kind(kind)) >= 2 for kind in Kind)
    assert len(built.of_kind(Kind.PERSON)) > len(built.of_kind(Kind.ORGANISATION))


def test_a_world_smaller_than_twenty_articles_is_refused() -> None:
    with pytest.raises(ValueError, match="articles"):
        WorldConfig(articles=19)


# --- names ----------------------------------------------------------------------------------


def test_names_are_unique_after_answer_normalisation(big: World) -> None:
    normals = [normalize_answer(e.name) for e in big.entities]
    assert len(set(normals)) == len(normals)


def test_names_are_syllable_words_and_no_word_is_shared_across_kinds(big: World) -> None:
    owners: dict[str, set[Kind]] = defaultdict(set)
    for entity in big.entities:
        words = entity.name.split()
        if entity.kind in (Kind.ORGANISATION, Kind.EVENT):
            words = words[:1]  # the type noun ("Guild", "Fair") is English on purpose
        for word in words:
            assert _NAME_WORD.fullmatch(word.lower()), entity.name
            owners[word].add(entity.kind)
    assert all(len(kinds) == 1 for kinds in owners.values())


def test_only_people_share_name_words_and_each_core_word_names_one_thing(big: World) -> None:
    cores = Counter(e.name.split()[0] for e in big.entities if e.kind is not Kind.PERSON)
    assert max(cores.values()) == 1
    assert all(len(e.name.split()) == 2 for e in big.of_kind(Kind.PERSON))


def test_a_demo_worlds_vocabulary_stays_small(world: World) -> None:
    words = vocabulary(world.articles)
    assert len(words) < 600
    assert {"founded", "capital", "which", "organisation", "birthplace"} <= set(words)


# --- the fact table and the articles --------------------------------------------------------


def test_every_subject_has_exactly_one_target_per_relation_of_its_kind(big: World) -> None:
    seen = Counter((f.subject, f.relation) for f in big.facts)
    assert max(seen.values()) == 1
    relations: dict[str, set[Relation]] = defaultdict(set)
    for fact in big.facts:
        relations[fact.subject].add(fact.relation)
    for entity in big.entities:
        expected = {r for r, spec in SPECS.items() if spec.subject == entity.kind}
        assert relations[entity.id] == expected


def test_fact_targets_have_the_kind_the_relation_promises(big: World) -> None:
    for fact in big.facts:
        spec = SPECS[fact.relation]
        if spec.target == YEAR:
            assert fact.target.isdigit()
        else:
            assert big.entity(fact.target).kind == spec.target


def test_dates_are_consistent_and_founders_belong_to_what_they_founded(big: World) -> None:
    for org in big.of_kind(Kind.ORGANISATION):
        founder = big.target(org.id, Relation.FOUNDED_BY)
        assert founder is not None
        age = int(big.target(org.id, Relation.FOUNDED_IN) or 0) - int(
            big.target(founder, Relation.BORN_IN_YEAR) or 0
        )
        assert 20 <= age <= 60
        assert big.target(founder, Relation.MEMBER_OF) == org.id
    for event in big.of_kind(Kind.EVENT):
        organiser = big.target(event.id, Relation.ORGANISED_BY) or ""
        assert int(big.target(event.id, Relation.HELD_IN_YEAR) or 0) > int(
            big.target(organiser, Relation.FOUNDED_IN) or 0
        )
    founders = [big.target(o.id, Relation.FOUNDED_BY) for o in big.of_kind(Kind.ORGANISATION)]
    assert len(set(founders)) == len(founders)


def test_a_countrys_capital_lies_in_that_country(big: World) -> None:
    for country in big.of_kind(Kind.COUNTRY):
        capital = big.target(country.id, Relation.CAPITAL) or ""
        assert big.target(capital, Relation.LOCATED_IN) == country.id


def test_an_article_states_each_of_its_facts_in_one_sentence_and_nothing_else(big: World) -> None:
    about: dict[str, list[Fact]] = defaultdict(list)
    for fact in big.facts:
        about[fact.subject].append(fact)
    for entity in big.entities:
        article = big.article(entity.id)
        sentences = re.findall(r"[^.]+\.", article.text)
        assert 1 <= len(sentences) <= 3
        assert len(sentences) == len(about[entity.id])
        for fact in about[entity.id]:
            stated = big.sentence(fact.subject, fact.relation)
            assert stated in article.text
            assert stated.endswith(f" {big.surface(fact.relation, fact.target)}.")
        assert article.title == entity.name


def test_an_article_reads_as_plain_sentences(world: World) -> None:
    org = world.of_kind(Kind.ORGANISATION)[0]
    founder = world.entity(world.target(org.id, Relation.FOUNDED_BY) or "")
    year = world.target(org.id, Relation.FOUNDED_IN)
    city = world.entity(world.target(org.id, Relation.BASED_IN) or "")
    assert world.article(org.id).text == (
        f"The {org.name} was founded by {founder.name}. The {org.name} was founded in {year}. "
        f"The {org.name} is based in {city.name}."
    )


def test_the_world_refuses_a_second_target_for_one_relation(world: World) -> None:
    fact = world.facts[0]
    other = next(e for e in world.of_kind(Kind.CITY) if e.id != fact.target)
    twice = (*world.facts, fact.model_copy(update={"target": other.id}))
    with pytest.raises(WorldError, match="two targets"):
        World(config=world.config, entities=world.entities, facts=twice, articles=world.articles)


def test_the_world_refuses_a_target_of_the_wrong_kind_and_a_shared_name() -> None:
    city = Entity(id="city-0", kind=Kind.CITY, name="Kalo")
    person = Entity(id="person-0", kind=Kind.PERSON, name="Bemi Tasu")
    wrong = Fact(subject="person-0", relation=Relation.BORN_IN, target="person-0")
    with pytest.raises(WorldError, match="must be a city"):
        World(config=WorldConfig(), entities=(city, person), facts=(wrong,), articles=())
    twin = Entity(id="city-1", kind=Kind.CITY, name="the KALO!")
    with pytest.raises(WorldError, match="share the name"):
        World(config=WorldConfig(), entities=(city, twin), facts=(), articles=())


# --- questions ------------------------------------------------------------------------------


def test_relation_paths_connect_kinds_end_in_years_only_and_skip_certain_loops() -> None:
    for hops in (1, 2, 3):
        paths = relation_paths(hops)
        assert paths and all(len(p) == hops for p in paths)
        for path in paths:
            for a, b in itertools.pairwise(path):
                assert SPECS[a].target == SPECS[b].subject
                assert (a, b) not in {
                    (Relation.FOUNDED_BY, Relation.MEMBER_OF),
                    (Relation.CAPITAL, Relation.LOCATED_IN),
                }
    with pytest.raises(ValueError, match="at least one hop"):
        relation_paths(0)


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_each_hop_count_yields_distinct_questions_from_many_paths(
    questions: dict[int, tuple[Question, ...]], hops: int
) -> None:
    asked = questions[hops]
    assert len(asked) == 300
    assert all(q.hops == hops == len(q.chain) for q in asked)
    assert len({q.id for q in asked}) == len({q.text for q in asked}) == 300
    used = {tuple(h.relation for h in q.chain) for q in asked}
    assert len(used) >= len(relation_paths(hops)) - 1


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_every_chain_is_valid_against_the_fact_table(
    big: World, questions: dict[int, tuple[Question, ...]], hops: int
) -> None:
    table = {(f.subject, f.relation, f.target) for f in big.facts}
    for q in questions[hops]:
        for hop in q.chain:
            assert (hop.subject, hop.relation, hop.target) in table
            assert hop.value == big.surface(hop.relation, hop.target)
        for before, after in zip(q.chain, q.chain[1:], strict=False):
            assert after.subject == before.target
            assert after.title == before.value  # the next search is for what was just read
        assert q.answers == (q.chain[-1].value,)
        assert q.answer_id == (None if q.chain[-1].value.isdigit() else q.chain[-1].target)
        visited = [q.chain[0].subject, *(h.target for h in q.chain)]
        assert len(set(visited)) == len(visited)


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_every_answer_is_unique_in_the_world(
    big: World, questions: dict[int, tuple[Question, ...]], hops: int
) -> None:
    # Recompute from the raw facts as a many-valued relation, starting from every entity that
    # bears the start's name: exactly one answer may come out.
    relation: dict[tuple[str, Relation], set[str]] = defaultdict(set)
    for fact in big.facts:
        relation[(fact.subject, fact.relation)].add(fact.target)
    named: dict[str, set[str]] = defaultdict(set)
    for entity in big.entities:
        named[normalize_answer(entity.name)].add(entity.id)
    for q in questions[hops]:
        frontier = named[normalize_answer(q.titles[0])]
        for hop in q.chain:
            frontier = {t for s in frontier for t in relation[(s, hop.relation)]}
        assert frontier == {q.chain[-1].target}
        if q.answer_id is not None:
            assert named[normalize_answer(q.answers[0])] == {q.answer_id}


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_no_answer_appears_in_its_question(
    questions: dict[int, tuple[Question, ...]], hops: int
) -> None:
    for q in questions[hops]:
        assert q.answers[0].lower() not in q.text.lower()
        assert f" {normalize_answer(q.answers[0])} " not in f" {normalize_answer(q.text)} "


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_the_question_names_its_start_and_the_articles_hold_every_hop(
    big: World, questions: dict[int, tuple[Question, ...]], hops: int
) -> None:
    for q in questions[hops]:
        assert big.entity(q.chain[0].subject).mention in q.text
        assert q.titles == tuple(big.article(h.article_id).title for h in q.chain)
        for hop in q.chain:
            text = big.article(hop.article_id).text
            assert hop.evidence in text
            assert hop.evidence.endswith(f" {hop.value}.")


def test_an_oracle_answers_every_question_by_title_lookup_and_reading_alone(
    big: World, questions: dict[int, tuple[Question, ...]], tmp_path: Path
) -> None:
    # Only the corpus file and the relation wording: search a title, find the sentence of the
    # hop's relation about it, read the value, search that next.
    path = tmp_path / "corpus.jsonl"
    write_corpus(path, big)
    by_title = {a.title: a for a in load_corpus(path)}
    for asked in questions.values():
        for q in asked:
            value = q.titles[0]
            for hop in q.chain:
                article = by_title[value]
                subject = (
                    f"the {value}" if hop.subject.startswith(("organisation", "event")) else value
                )
                stem = SPECS[hop.relation].sentence.format(s=subject, t="")[:-1]
                stem = stem[0].upper() + stem[1:]
                found = [
                    s for s in re.findall(r"[^.]+\.", article.text) if s.strip().startswith(stem)
                ]
                readings = [s.strip()[len(stem) : -1] for s in found]
                # "born in" states a city and a year: the relation's target type picks one.
                want_year = SPECS[hop.relation].target == YEAR
                (value,) = [r for r in readings if r.isdigit() == want_year]
                value = value.removeprefix("the ")
            assert value in q.answers


def test_the_same_arguments_ask_the_same_questions_and_exclude_keeps_sets_apart(
    big: World,
) -> None:
    first = make_questions(big, 2, 50, seed=4)
    assert first == make_questions(big, 2, 50, seed=4)
    assert first != make_questions(big, 2, 50, seed=5)
    others = make_questions(big, 2, 50, seed=4, exclude={q.id for q in first})
    assert len(others) == 50
    assert not {q.id for q in first} & {q.id for q in others}


def test_a_small_world_returns_fewer_questions_only_when_it_has_no_more() -> None:
    tiny = build_world(20, seed=0)
    asked = make_questions(tiny, 1, 10_000)
    assert len(asked) == len({q.id for q in asked})
    possible = sum(
        ask(tiny, e.id, path) is not None
        for path in relation_paths(1)
        for e in tiny.of_kind(SPECS[path[0]].subject)
    )
    assert len(asked) == possible


def test_a_question_that_would_loop_or_show_its_answer_is_not_asked() -> None:
    city = Entity(id="city-0", kind=Kind.CITY, name="Kalo")
    country = Entity(id="country-0", kind=Kind.COUNTRY, name="Tebu")
    person = Entity(id="person-0", kind=Kind.PERSON, name="Kalo Bemi")
    other = Entity(id="person-1", kind=Kind.PERSON, name="Tasu Rime")
    facts = (
        Fact(subject="city-0", relation=Relation.LOCATED_IN, target="country-0"),
        Fact(subject="country-0", relation=Relation.CAPITAL, target="city-0"),
        Fact(subject="person-0", relation=Relation.BORN_IN, target="city-0"),
        Fact(subject="person-1", relation=Relation.BORN_IN, target="city-0"),
    )
    entities = (city, country, person, other)
    articles = tuple(Article(id=e.id, title=e.name, text="") for e in entities)
    small = World(config=WorldConfig(), entities=entities, facts=facts, articles=articles)
    # "What is the capital of the country of Kalo?" is Kalo itself.
    assert ask(small, "city-0", (Relation.LOCATED_IN, Relation.CAPITAL)) is None
    # "What is the capital of the country of the birthplace of Tasu Rime?" names no answer but
    # comes back to Kalo, the birthplace: a loop through the chain, refused as well.
    assert ask(small, "person-1", (Relation.BORN_IN, Relation.LOCATED_IN, Relation.CAPITAL)) is None
    # "In which city was Kalo Bemi born?" shows its answer, Kalo.
    assert ask(small, "person-0", (Relation.BORN_IN,)) is None
    # A relation the entity lacks asks nothing.
    assert ask(small, "person-0", (Relation.MEMBER_OF,)) is None


def test_questions_are_worded_by_nesting_phrases(world: World) -> None:
    org = world.of_kind(Kind.ORGANISATION)[0]
    q = ask(world, org.id, (Relation.FOUNDED_BY, Relation.BORN_IN))
    assert q is not None
    assert q.text == f"In which city was the founder of the {org.name} born?"
    assert q.titles[0] == org.name


# --- the split ------------------------------------------------------------------------------


def test_the_split_partitions_the_articles_and_is_deterministic(world: World) -> None:
    split = split_corpus(world, [], local_fraction=0.3, seed=2)
    ids = {a.id for a in world.articles}
    assert split.local | split.web == ids
    assert not split.local & split.web
    assert len(split.local) == round(0.3 * len(ids))
    assert split == split_corpus(world, [], local_fraction=0.3, seed=2)
    assert split.local != split_corpus(world, [], local_fraction=0.3, seed=3).local
    halves = split.articles(world, "local") + split.articles(world, "web")
    assert sorted(a.id for a in halves) == sorted(ids)


def test_many_multi_hop_questions_need_both_halves_and_the_count_is_exact(
    big: World, questions: dict[int, tuple[Question, ...]]
) -> None:
    asked = [q for hops in (1, 2, 3) for q in questions[hops]]
    split = split_corpus(big, asked, seed=0)
    counts = {c.hops: c for c in split.counts}
    assert set(counts) == {1, 2, 3}
    for hops, count in counts.items():
        halves = [{split.half(i) for i in q.article_ids} for q in questions[hops]]
        assert count.questions == 300
        assert count.need_both == sum(len(h) == 2 for h in halves)
    assert counts[1].need_both == 0
    # Half the articles on each side: about 1/2 of 2-hop and 3/4 of 3-hop chains cross.
    assert 0.35 < counts[2].need_both / 300 < 0.65
    assert 0.6 < counts[3].need_both / 300 < 0.9


def test_a_split_fraction_outside_zero_and_one_is_refused(world: World) -> None:
    for bad in (0.0, 1.0, -0.1, 2.0):
        with pytest.raises(ValueError, match="local_fraction"):
            split_corpus(world, [], local_fraction=bad)


def test_a_split_by_kind_puts_those_kinds_local_and_the_rest_on_the_web(
    big: World, questions: dict[int, tuple[Question, ...]]
) -> None:
    local = {Kind.PERSON, Kind.ORGANISATION}
    split = split_corpus(big, questions[2], local_kinds=local)
    assert {big.entity(i).kind for i in split.local} == local
    assert {big.entity(i).kind for i in split.web} == set(Kind) - local
    assert split.local | split.web == {a.id for a in big.articles}
    # A 2-hop chain crosses when its two articles' kinds fall on different sides.
    crossing = [q for q in questions[2] if split.needs_both(q)]
    assert crossing and split.counts[0].need_both == len(crossing)
    for bad in (set(), set(Kind)):
        with pytest.raises(ValueError, match="local_kinds"):
            split_corpus(big, [], local_kinds=bad)


# --- corpus files ---------------------------------------------------------------------------


def test_a_written_corpus_loads_back_record_for_record(world: World, tmp_path: Path) -> None:
    path = tmp_path / "world.jsonl"
    assert write_corpus(path, world) == 300
    assert load_corpus(path) == world.articles
    first = orjson.loads(path.read_bytes().splitlines()[0])
    assert set(first) == {"id", "title", "text"}
    half = split_corpus(world, []).articles(world, "web")
    assert write_corpus(tmp_path / "web.jsonl", half) == len(half)
    assert load_corpus(tmp_path / "web.jsonl") == half


def test_a_real_corpus_with_extra_keys_blank_lines_and_integer_ids_loads(tmp_path: Path) -> None:
    path = tmp_path / "wiki.jsonl"
    path.write_text(
        '{"id": "1", "title": "Aaron", "text": "Aaron is a prophet.", "url": "x"}\n\n'
        '{"id": 2, "title": "Abba", "text": "Abba is a band."}\n'
    )
    assert [(a.id, a.title) for a in load_corpus(path)] == [("1", "Aaron"), ("2", "Abba")]


def test_the_search_tools_loader_reads_a_world_corpus_unchanged(
    world: World, tmp_path: Path
) -> None:
    from sparring.tools.search.corpus import load_corpus as load_for_search

    path = tmp_path / "world.jsonl"
    write_corpus(path, world)
    passages = load_for_search(path)
    assert [(p.id, p.title, p.text) for p in passages] == [
        (a.id, a.title, a.text) for a in world.articles
    ]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("{not json", "not JSON"),
        ('["id", "title", "text"]', "JSON object"),
        ('{"id": "1", "title": "A"}', "text"),
        ('{"id": 1.5, "title": "A", "text": "B"}', "id"),
        ('{"id": "1", "title": "A", "text": 3}', "text"),
    ],
)
def test_a_bad_corpus_line_is_refused_with_its_line_number(
    tmp_path: Path, line: str, why: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "0", "title": "Ok", "text": "Fine."}\n' + line + "\n")
    with pytest.raises(CorpusError, match=why) as info:
        load_corpus(path)
    assert info.value.line == 2
    assert f"{path}:2" in str(info.value)


def test_a_repeated_id_and_a_missing_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "twice.jsonl"
    path.write_text(
        '{"id": "7", "title": "A", "text": "a"}\n{"id": "7", "title": "B", "text": "b"}\n'
    )
    with pytest.raises(CorpusError, match="repeats line 1"):
        load_corpus(path)
    with pytest.raises(CorpusError, match="cannot read"):
        load_corpus(tmp_path / "absent.jsonl")


def test_the_module_command_writes_the_corpus_questions_and_halves(tmp_path: Path) -> None:
    from sparring.tools.world.__main__ import main

    report = main([str(tmp_path), "--articles", "200", "--questions", "20"])
    assert report["articles"] == 200
    assert report["questions"] == 60
    assert len(load_corpus(tmp_path / "corpus.jsonl")) == 200
    halves = load_corpus(tmp_path / "local.jsonl") + load_corpus(tmp_path / "web.jsonl")
    assert len(halves) == 200
    lines = (tmp_path / "questions.jsonl").read_bytes().splitlines()
    assert [Question.model_validate_json(line).hops for line in lines] == [1] * 20 + [2] * 20 + [
        3
    ] * 20
