"""A generated fictional world for search games: articles whose facts no model knows.

People, cities, countries, organisations and dated events, linked by typed functional relations
(born in, founded by, located in, member of, founded in year, ...), each entity written as a
one-to-three-sentence encyclopedia article, and multi-hop questions with checkable answers:

    world = build_world(articles=300, seed=0)           # deterministic from the seed
    write_corpus("world.jsonl", world)                  # {"id", "title", "text"} per line
    questions = make_questions(world, hops=2, count=50) # gold answers + the chain to find them
    split = split_corpus(world, questions)              # local and web halves, for HierSearch

Modules: names (syllable names), relations (the schema and its wording), articles, world
(generation and look-ups), questions, split, corpus (JSONL in and out), errors; and
`python -m sparring.tools.world OUT --articles N` writes a world to disk and times it.
"""

from sparring.tools.world.articles import Article, vocabulary
from sparring.tools.world.corpus import load_corpus, write_corpus
from sparring.tools.world.errors import CorpusError, WorldError
from sparring.tools.world.questions import Hop, Question, ask, make_questions, relation_paths
from sparring.tools.world.relations import SPECS, Entity, Fact, Kind, Relation
from sparring.tools.world.split import CorpusSplit, Half, HopCount, split_corpus
from sparring.tools.world.world import World, WorldConfig, build_world

__all__ = [
    "SPECS",
    "Article",
    "CorpusError",
    "CorpusSplit",
    "Entity",
    "Fact",
    "Half",
    "Hop",
    "HopCount",
    "Kind",
    "Question",
    "Relation",
    "World",
    "WorldConfig",
    "WorldError",
    "ask",
    "build_world",
    "load_corpus",
    "make_questions",
    "relation_paths",
    "split_corpus",
    "vocabulary",
    "write_corpus",
]
