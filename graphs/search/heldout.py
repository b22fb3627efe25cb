"""Tasks, held-out evaluation and oracle demonstrations, all from the world's fact table.

Tasks: a hop count n from `min_hops..max_hops` (the task source's curriculum picks it, source.py)
and a gold answer, the answer of
a random n-hop question of the world whose answer is an entity (the proposer sees only the
answer and n: any question it finds with that answer is fine). With a user's corpus the answer
is a random passage title. With `questions = 'oracle'` (the fixed-curriculum baseline) the
task carries that question and its gold answers, and the solvers get it without a proposer.

Held-out set: `eval_questions` questions per hop count from `eval_seed`, entity answers only,
fixed across runs; `probe` questions (seed + 1) for the warm-up's readiness check; both are kept
out of the task pool and the demonstrations. `evaluate` reports greedy and sampled exact match
per hop count ({"em_greedy/h1": ...}) and their means.

Demonstrations (the tiny model cannot search at all without them; docs/learning.md):
- solver: search the first hop's subject, read the fact, search the entity it names, ..., then
  answer, with the real search results spliced in as the tool loop would;
- proposer ("search backwards from the answer"): search the answer, pick a returned article that
  states a fact about it, search that article's entity, ... n times, then write the question
  along the chain found (the world's own wording). Every fact of the question was in a result,
  so the RAG verifier has what it needs.
The warm-up learns the whole completion text, result lines included (policy/warmup.py has no
loss mask); in RL the result tokens are masked.
"""

from __future__ import annotations

import asyncio
import random
from functools import lru_cache

from pydantic import JsonValue

from sparring.errors import GameError
from sparring.graphs.search.config import SearchGameConfig
from sparring.graphs.search.graph import attempt_question
from sparring.graphs.search.library import Library, library_for, world_for
from sparring.graphs.search.prompts import proposer_messages, solver_messages
from sparring.policy.base import Example, Policy, SamplingParams
from sparring.roles.tool_loop import RESULT_CLOSE, RESULT_OPEN, demonstration_segments
from sparring.tools.search import Hit, format_hits
from sparring.tools.world import SPECS, Question, Relation, ask, make_questions, relation_paths

__all__ = [
    "backward_demonstration",
    "demonstration",
    "evaluate",
    "heldout_questions",
    "probe_questions",
    "ready",
    "solver_demonstration",
    "tasks",
    "training_questions",
]


def _entity_questions(cfg: SearchGameConfig, hops: int, count: int, seed: int) -> list[Question]:
    world = world_for(cfg)
    assert world is not None
    drawn = make_questions(world, hops, 4 * count, seed=seed)
    return [q for q in drawn if q.answer_id is not None][:count]


def heldout_questions(cfg: SearchGameConfig, hops: int) -> list[Question]:
    """The fixed held-out questions of one hop count (never in tasks or demonstrations)."""
    return _cached_questions(cfg, hops, cfg.eval_questions, cfg.eval_seed)


def probe_questions(cfg: SearchGameConfig, hops: int) -> list[Question]:
    """The readiness probe's questions of one hop count (apart from the held-out set)."""
    return _cached_questions(cfg, hops, cfg.warmup_probe, cfg.eval_seed + 1)


def _cached_questions(cfg: SearchGameConfig, hops: int, count: int, seed: int) -> list[Question]:
    return list(_questions_json(cfg.model_dump_json(), hops, count, seed))


@lru_cache(maxsize=32)
def _questions_json(key: str, hops: int, count: int, seed: int) -> tuple[Question, ...]:
    cfg = SearchGameConfig.model_validate_json(key)
    return tuple(_entity_questions(cfg, hops, count, seed))


@lru_cache(maxsize=8)
def _pool_json(key: str, hops: int) -> tuple[Question, ...]:
    cfg = SearchGameConfig.model_validate_json(key)
    world = world_for(cfg)
    assert world is not None
    kept = {q.id for q in heldout_questions(cfg, hops)} | {q.id for q in probe_questions(cfg, hops)}
    drawn = make_questions(world, hops, 100_000, seed=cfg.world_seed + 7, exclude=kept)
    return tuple(q for q in drawn if q.answer_id is not None)


def training_questions(cfg: SearchGameConfig, hops: int) -> tuple[Question, ...]:
    """Every entity-answer question of `hops` hops outside the held-out and probe sets."""
    return _pool_json(cfg.model_dump_json(), hops)


def tasks(
    rng: random.Random, cfg: SearchGameConfig, hops: int | None = None
) -> dict[str, JsonValue]:
    """One task: a hop count (`hops`, else drawn uniformly) and a gold answer (see the module
    docstring), and with `questions = 'oracle'` the fact table's question too."""
    hops = rng.choice(cfg.hop_counts) if hops is None else hops
    if world_for(cfg) is None:
        if cfg.questions == "oracle":
            raise GameError(
                "search game: questions='oracle' needs the generated world's fact table; a "
                "corpus or index of your own has none (use questions='proposer')"
            )
        return {"answer": rng.choice(library_for(cfg).passages).title, "hops": hops}
    question = rng.choice(training_questions(cfg, hops))
    task: dict[str, JsonValue] = {"answer": question.answers[0], "hops": hops}
    if cfg.questions == "oracle":
        task |= {"question": question.text, "golds": list(question.answers)}
    return task


async def _em(
    policy: Policy,
    questions: list[Question],
    lib: Library,
    cfg: SearchGameConfig,
    params: SamplingParams,
) -> float:
    attempts = await asyncio.gather(
        *(
            attempt_question(policy, q.text, list(q.answers), q.hops, lib, cfg, params)
            for q in questions
        )
    )
    return sum(a.em for a in attempts) / max(len(attempts), 1)


async def evaluate(policy: Policy, cfg: SearchGameConfig) -> dict[str, float]:
    """Solver exact match on the held-out set, greedy and sampled, per hop count and overall
    (nothing for a user's corpus, which has no fact table)."""
    if world_for(cfg) is None:
        return {}
    lib = library_for(cfg)
    greedy = cfg.solver.model_copy(update={"temperature": 0.0})
    out: dict[str, float] = {}
    for name, params in (("em_greedy", greedy), ("em_sampled", cfg.solver)):
        per_hop = [
            await _em(policy, heldout_questions(cfg, h), lib, cfg, params) for h in cfg.hop_counts
        ]
        for hops, em in zip(cfg.hop_counts, per_hop, strict=True):
            out[f"{name}/h{hops}"] = em
        out[name] = sum(per_hop) / len(per_hop)
    return out


async def ready(policy: Policy, cfg: SearchGameConfig) -> bool:
    """Whether greedy EM on the probe questions reaches `warmup_ready` for every hop count."""
    if world_for(cfg) is None:
        return False
    lib, greedy = library_for(cfg), cfg.solver.model_copy(update={"temperature": 0.0})
    for hops, need in sorted(cfg.warmup_ready.items()):
        if await _em(policy, probe_questions(cfg, hops), lib, cfg, greedy) < need:
            return False
    return True


def _result(query: str, hits: list[Hit], cfg: SearchGameConfig) -> str:
    """One written-out search turn: the query and its results as the tool loop splices them."""
    return (
        f"<search>{query}</search>{RESULT_OPEN}{format_hits(hits, cfg.snippet_chars)}{RESULT_CLOSE}"
    )


def solver_demonstration(question: Question, lib: Library, cfg: SearchGameConfig) -> str:
    """The oracle solver's completion: search each hop's subject in turn, then answer."""
    steps = "".join(
        _result(hop.title, lib.search_now(hop.title, cfg.solver_k, cfg.search_mode), cfg)
        for hop in question.chain
    )
    return f"{steps}<answer>{question.answers[0]}</answer>"


def backward_demonstration(
    answer_id: str, hops: int, lib: Library, cfg: SearchGameConfig, rng: random.Random
) -> str | None:
    """The oracle proposer's completion for the entity `answer_id`, found by searching
    backwards from it (module docstring), or None when the results offer no valid chain."""
    world = lib.world
    assert world is not None
    current, text = answer_id, ""
    path: list[Relation] = []
    for _ in range(hops):
        query = world.entity(current).name
        hits = lib.search_now(query, cfg.proposer_k, cfg.search_mode)
        text += _result(query, hits, cfg)
        links = [
            (h.id, r)
            for h in hits
            if h.id in lib.by_id and h.id != current
            for r in SPECS
            if world.target(h.id, r) == current
        ]
        if not links:
            return None
        current, relation = rng.choice(links)
        path.insert(0, relation)
    if tuple(path) not in set(relation_paths(hops)):
        return None
    question = ask(world, current, tuple(path))
    if question is None:
        return None
    return f"{text}<answer>{question.text}</answer>"


def demonstration(rng: random.Random, cfg: SearchGameConfig) -> Example:
    """One warm-up example: a proposer's backward search (a `warmup_proposer_share` of the time,
    when the results offer a chain), else a solver's forward search at a hop count drawn from
    `warmup_mix`."""
    lib = library_for(cfg)
    if rng.random() < cfg.warmup_proposer_share:
        hops = rng.choice(cfg.hop_counts)
        for _ in range(8):
            question = rng.choice(training_questions(cfg, hops))
            assert question.answer_id is not None
            completion = backward_demonstration(question.answer_id, hops, lib, cfg, rng)
            if completion is not None:
                messages = proposer_messages(question.answers[0], hops)
                return messages, demonstration_segments(completion)
    counts = [h for h in cfg.warmup_mix if h in cfg.hop_counts]
    hops = rng.choices(counts, weights=[cfg.warmup_mix[h] for h in counts])[0]
    question = rng.choice(training_questions(cfg, hops))
    completion = solver_demonstration(question, lib, cfg)
    return solver_messages(question.text), demonstration_segments(completion)
