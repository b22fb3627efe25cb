"""Questions, held-out evaluation, the warm-up's readiness check and oracle demonstrations.

Questions come from the world's fact table (tools/world): 1-hop questions (one source holds the
fact) and 2-hop questions whose chain reads one article of each source (the two-source level,
the game's frontier). Only entity answers, as in the search game. `eval_questions` a hop count
from `eval_seed` are held out, `warmup_probe` more (seed + 1) are the readiness probe; both are
kept out of the training pool and the demonstrations.

`evaluate` plays the whole hierarchy (planner, both sub-agents, the configured refiner) on the
held-out set: greedy and sampled planner exact match per hop count (`em_greedy/h2`), and the
tokens the greedy planner read (`read_tokens/h2`, its prompt and every report).
`compare_refiners` plays the same held-out set once per refiner mode (bench/hiersearch.py).

Demonstrations (a tiny model can neither delegate nor search without them), from the chain:
- planner: per hop, ask the source holding that hop's article the hop's own 1-hop question
  ("In which city was Nanon Bafogu born?"), read the report, go on with the value it gave;
  then answer. The reports are written as the oracle's sub-agent would return them: its answer
  and the hop's article (what a refiner keeps);
- sub-agent: search the hop's subject in its own source, answer the hop's value;
- refiner: one document a sub-agent search returned, "yes" if it is the hop's article, else "no".
With questions='proposer', a `warmup_proposer_share` of them are the search game's, on this
game's training questions over the whole world: half the proposer's backward search from the
answer, half the forward search the RAG verifier makes (it plays the search solver's loop).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from functools import lru_cache

from pydantic import JsonValue

from sparring.graphs.game import Readiness
from sparring.graphs.hiersearch.config import HierSearchConfig, RefinerMode
from sparring.graphs.hiersearch.hierarchy import Hierarchy, PlannerAttempt, demonstration_result
from sparring.graphs.hiersearch.prompts import agent_messages, planner_messages, refiner_messages
from sparring.graphs.hiersearch.sources import Sources, sources_for, split_world
from sparring.graphs.policies import Policies
from sparring.graphs.search.heldout import backward_demonstration, solver_demonstration
from sparring.graphs.search.library import library_for
from sparring.graphs.search.prompts import proposer_messages, solver_messages
from sparring.policy.base import Example, Policy, SamplingParams
from sparring.roles.tool_loop import RESULT_CLOSE, RESULT_OPEN, demonstration_segments
from sparring.tools.search import Hit, format_hits
from sparring.tools.world import SPECS, Hop, Kind, Question, World, ask, make_questions

__all__ = [
    "compare_refiners",
    "demonstration",
    "evaluate",
    "heldout_questions",
    "probe_questions",
    "ready",
    "sub_question",
    "tasks",
    "training_questions",
]


def sub_question(hop: Hop, world: World) -> str:
    """The 1-hop question that asks for one hop's value, in the world's wording ("In which city
    was X born?", the words a 1-hop question of the fact table has)."""
    asked = ask(world, hop.subject, (hop.relation,))
    return asked.text if asked is not None else SPECS[hop.relation].question.format(s=hop.title)


def _eligible(
    cfg: HierSearchConfig, hops: int, seed: int, exclude: frozenset[str] = frozenset()
) -> tuple[Question, ...]:
    """Every question of `hops` hops the game plays, in `make_questions`' order for `seed`:
    entity answers only, and at 2 hops one fact from each source. Cached on what the
    questions depend on (the world and its split), so settings of play share them."""
    return _questions(cfg.world_articles, cfg.world_seed, cfg.local_kinds, hops, seed, exclude)


@lru_cache(maxsize=32)
def _questions(
    articles: int, world_seed: int, kinds: tuple[Kind, ...], hops: int, seed: int,
    exclude: frozenset[str],
) -> tuple[Question, ...]:  # fmt: skip
    world, split = split_world(articles, world_seed, kinds)
    drawn = make_questions(world, hops, 100_000, seed=seed, exclude=exclude)
    keep = [q for q in drawn if q.answer_id is not None]
    if hops >= 2:  # the two-source level: one fact local, one web
        keep = [q for q in keep if split.needs_both(q)]
    return tuple(keep)


def heldout_questions(cfg: HierSearchConfig, hops: int) -> list[Question]:
    """The fixed held-out questions of one hop count."""
    return list(_eligible(cfg, hops, cfg.eval_seed)[: cfg.eval_questions])


def probe_questions(cfg: HierSearchConfig, hops: int) -> list[Question]:
    """The readiness probe's questions of one hop count (apart from the held-out set)."""
    kept = {q.id for q in heldout_questions(cfg, hops)}
    drawn = _eligible(cfg, hops, cfg.eval_seed + 1)
    return [q for q in drawn if q.id not in kept][: cfg.warmup_probe]


def training_questions(cfg: HierSearchConfig, hops: int) -> tuple[Question, ...]:
    """Every eligible question of `hops` hops outside the held-out and probe sets."""
    kept = {q.id for q in heldout_questions(cfg, hops)} | {q.id for q in probe_questions(cfg, hops)}
    return _eligible(cfg, hops, cfg.world_seed + 7, frozenset(kept))


def tasks(
    rng: random.Random, cfg: HierSearchConfig, hops: int | None = None
) -> dict[str, JsonValue]:
    """One task: a question of `hops` hops (else drawn uniformly), its golds and its chain; with
    questions='proposer' only its answer, for the proposer to write a question to."""
    hops = rng.choice(cfg.hop_counts) if hops is None else hops
    question = rng.choice(training_questions(cfg, hops))
    if cfg.questions == "proposer":
        return {"answer": question.answers[0], "hops": hops}
    return {
        "question": question.text,
        "golds": list(question.answers),
        "hops": hops,
        "chain": [h.model_dump(mode="json") for h in question.chain],
    }


async def _attempts(
    hierarchy: Hierarchy,
    questions: Sequence[Question],
    params: SamplingParams,
    mode: RefinerMode | None = None,
) -> list[PlannerAttempt]:
    return list(
        await asyncio.gather(
            *(hierarchy.attempt(q.text, list(q.answers), q.hops, params, mode) for q in questions)
        )
    )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / max(len(values), 1)


async def evaluate(policy: Policy, cfg: HierSearchConfig) -> dict[str, float]:
    """Planner exact match on the held-out set, greedy and sampled, per hop count and overall,
    and the tokens the greedy planner read per hop count."""
    hierarchy = Hierarchy(Policies(default=policy), cfg)
    greedy = cfg.planner.model_copy(update={"temperature": 0.0})
    out: dict[str, float] = {}
    for name, params in (("em_greedy", greedy), ("em_sampled", cfg.planner)):
        per_hop = []
        for hops in cfg.hop_counts:
            attempts = await _attempts(hierarchy, heldout_questions(cfg, hops), params)
            per_hop.append(_mean([a.em for a in attempts]))
            out[f"{name}/h{hops}"] = per_hop[-1]
            if name == "em_greedy":
                out[f"read_tokens/h{hops}"] = _mean([a.read_tokens for a in attempts])
        out[name] = _mean(per_hop)
    return out


async def compare_refiners(
    policy: Policy, cfg: HierSearchConfig, hops: int
) -> dict[RefinerMode, dict[str, float]]:
    """Greedy planner EM and tokens read on the held-out questions of `hops`, per refiner mode."""
    hierarchy = Hierarchy(Policies(default=policy), cfg)
    greedy = cfg.planner.model_copy(update={"temperature": 0.0})
    out: dict[RefinerMode, dict[str, float]] = {}
    modes: tuple[RefinerMode, ...] = ("off", "embedding", "policy")
    for mode in modes:
        attempts = await _attempts(hierarchy, heldout_questions(cfg, hops), greedy, mode)
        out[mode] = {
            "em": _mean([a.em for a in attempts]),
            "read_tokens": _mean([a.read_tokens for a in attempts]),
        }
    return out


async def ready(policy: Policy, cfg: HierSearchConfig) -> Readiness:
    """Whether greedy planner EM on the probe questions reaches `warmup_ready` per hop count
    (every level is measured, so a warm-up of many minutes can say where each one stands)."""
    hierarchy = Hierarchy(Policies(default=policy), cfg)
    greedy = cfg.planner.model_copy(update={"temperature": 0.0})
    figures, needs = {}, {}
    for hops, need in sorted(cfg.warmup_ready.items()):
        if hops not in cfg.hop_counts:
            continue
        attempts = await _attempts(hierarchy, probe_questions(cfg, hops), greedy)
        figures[f"em/h{hops}"], needs[f"em/h{hops}"] = _mean([a.em for a in attempts]), need
    return Readiness(
        ready=all(figures[k] >= needs[k] for k in figures), figures=figures, needs=needs
    )


def _agent_hits(sources: Sources, hop: Hop, cfg: HierSearchConfig) -> list[Hit]:
    """What the hop's own source returns for a search of the hop's subject."""
    library = sources.half(sources.split.half(hop.article_id))
    return library.search_now(hop.title, cfg.agent_k, cfg.search_mode)


def planner_demonstration(question: Question, sources: Sources, cfg: HierSearchConfig) -> str:
    """The oracle planner's completion: each hop's question to the source that holds it."""
    text = ""
    for hop in question.chain:
        half = sources.split.half(hop.article_id)
        kept = [h for h in _agent_hits(sources, hop, cfg) if h.id == hop.article_id]
        text += f"<{half}>{sub_question(hop, sources.world)}</{half}>"
        text += demonstration_result(hop.value, kept, cfg.snippet_chars)
    return f"{text}<answer>{question.answers[0]}</answer>"


def agent_demonstration(hop: Hop, sources: Sources, cfg: HierSearchConfig) -> str:
    """The oracle sub-agent's completion: search the subject, answer the value."""
    hits = format_hits(_agent_hits(sources, hop, cfg), cfg.snippet_chars)
    return (
        f"<search>{hop.title}</search>{RESULT_OPEN}{hits}{RESULT_CLOSE}<answer>{hop.value}</answer>"
    )


def demonstration(rng: random.Random, cfg: HierSearchConfig) -> Example:
    """One warm-up example for the planner, a sub-agent or the refiner (`warmup_shares`)."""
    # Only proposer mode draws this number: the oracle mode's demonstrations stay as measured.
    if cfg.questions == "proposer" and rng.random() < cfg.warmup_proposer_share:
        return _search_demonstration(rng, cfg)
    sources = sources_for(cfg)
    roles = list(cfg.warmup_shares)
    role = rng.choices(roles, weights=[cfg.warmup_shares[r] for r in roles])[0]
    if role == "planner":
        levels = [h for h in cfg.warmup_mix if h in cfg.hop_counts]
        hops = rng.choices(levels, weights=[cfg.warmup_mix[h] for h in levels])[0]
        question = rng.choice(training_questions(cfg, hops))
        completion = planner_demonstration(question, sources, cfg)
        return planner_messages(question.text), demonstration_segments(completion)
    question = rng.choice(training_questions(cfg, rng.choice(cfg.hop_counts)))
    hop = rng.choice(question.chain)
    half = sources.split.half(hop.article_id)
    if role == "agent":
        completion = agent_demonstration(hop, sources, cfg)
        return agent_messages(half, sub_question(hop, sources.world)), demonstration_segments(
            completion
        )
    document = rng.choice(_agent_hits(sources, hop, cfg))
    word = "yes" if document.id == hop.article_id else "no"
    messages = refiner_messages(
        sub_question(hop, sources.world), format_hits([document], cfg.snippet_chars)
    )
    return messages, word


def _search_demonstration(rng: random.Random, cfg: HierSearchConfig) -> Example:
    """A proposer's backward search or a verifier's forward one, on a training question (never
    a held-out or probe one) of this game."""
    scfg = cfg.search_config()
    lib = library_for(scfg)
    hops = rng.choice(cfg.hop_counts)
    pool = training_questions(cfg, hops)
    if rng.random() < 0.5:
        for _ in range(8):  # a backward search finds a chain about half the time
            question = rng.choice(pool)
            assert question.answer_id is not None
            completion = backward_demonstration(question.answer_id, hops, lib, scfg, rng)
            if completion is not None:
                messages = proposer_messages(question.answers[0], hops)
                return messages, demonstration_segments(completion)
    question = rng.choice(pool)
    return solver_messages(question.text), demonstration_segments(
        solver_demonstration(question, lib, scfg)
    )
