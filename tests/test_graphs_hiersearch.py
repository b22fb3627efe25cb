"""The hiersearch game: the split, every delegation and refinement path, every reward path and the
oracle demonstrations on scripted policies, and whole episodes on the tiny model.

The world (120 articles) is split by kind and indexed once for the module. The scripted policy
plays every role from the prompt's first line ("plan with", "search local|web", "refine") and
the number of results its trajectory holds so far.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sparring.errors import GameError
from sparring.graphs import EpisodeOutcome, Policies, load_game, play_episode
from sparring.graphs.hiersearch import (
    Hierarchy,
    HierSearchConfig,
    checkable_hop,
    demonstration,
    evaluate,
    ready,
    refine,
    sources_for,
    start,
    sub_question,
)
from sparring.graphs.hiersearch.graph import build
from sparring.graphs.hiersearch.heldout import (
    agent_demonstration,
    heldout_questions,
    planner_demonstration,
    probe_questions,
    training_questions,
)
from sparring.graphs.hiersearch.refiner import embedding_keep, parse_keep
from sparring.graphs.hiersearch.sources import Sources
from sparring.messages import ChatMessage, Role, Task
from sparring.policy import SamplingParams, ScriptedPolicy
from sparring.policy.tiny import build_tiny_model
from sparring.policy.transformers_backend import TransformersPolicy
from sparring.roles.tool_loop import RESULT_OPEN
from sparring.tools.search import Hit
from sparring.tools.world import Kind, Question

GAME = load_game("hiersearch")
# The scripted policy's tokens are bytes: turns and trajectories need room for whole sentences.
CFG = HierSearchConfig(
    world_articles=120,
    eval_questions=4,
    warmup_probe=2,
    n_planners=2,
    refiner="policy",
    planner=SamplingParams(max_new_tokens=256),
    agent=SamplingParams(max_new_tokens=256),
    refiner_params=SamplingParams(max_new_tokens=16),
    planner_budget=4096,
    agent_budget=4096,
)


@pytest.fixture(scope="module")
def sources() -> Sources:
    return sources_for(CFG)


@pytest.fixture(scope="module")
def question(sources: Sources) -> Question:
    """A two-source question: its first fact local or web, its second on the other side."""
    return heldout_questions(CFG, 2)[0]


Reply = Callable[[str, int], str]


def _oracle(question: Question, sources: Sources, *, planner_answer: str | None = None,
            agent: Reply | None = None, refiner: Callable[[str, str], str] | None = None,
            proposer: Reply | None = None, verifier: Reply | None = None,
            ) -> ScriptedPolicy:  # fmt: skip
    """Every role played right for `question`, unless a role's reply is given (the proposer and
    the verifier play only when given)."""
    subs = [sub_question(h, sources.world) for h in question.chain]

    def plan(text: str, turn: int) -> str:
        if turn < question.hops:
            half = sources.split.half(question.chain[turn].article_id)
            return f"<{half}>{subs[turn]}</{half}>"
        return f"<answer>{planner_answer or question.answers[0]}</answer>"

    def search(text: str, turn: int) -> str:
        hop = next((h for h, s in zip(question.chain, subs, strict=True) if s in text), None)
        if hop is None:
            return "<answer>I do not know</answer>"
        return f"<search>{hop.title}</search>" if turn == 0 else f"<answer>{hop.value}</answer>"

    def judge(asked: str, document: str) -> str:
        return "yes" if document.split("]")[0].lstrip("[") in asked else "no"

    def reply(messages: list[ChatMessage]) -> str:
        text = messages[-1].content
        turn = text.count(RESULT_OPEN)
        head = text.split("user: ", 1)[-1]
        if head.startswith("plan with"):
            return plan(text, turn)
        if head.startswith("search"):
            return (agent or search)(text, turn)
        if head.startswith("refine"):
            asked = text.split("question: ", 1)[1].split("\n", 1)[0]
            document = text.split("document: ", 1)[1]
            return (refiner or judge)(asked, document)
        if head.startswith("answer: ") and proposer is not None:
            return proposer(text, turn)
        if head.startswith("question: ") and verifier is not None:
            return verifier(text, turn)
        raise AssertionError(f"no role starts its prompt like {head[:40]!r}")

    return ScriptedPolicy(reply)


def _task(question: Question) -> Task:
    return Task(
        run="t",
        game="hiersearch",
        params={
            "question": question.text,
            "golds": list(question.answers),
            "hops": question.hops,
            "chain": [h.model_dump(mode="json") for h in question.chain],
        },
    )


async def _play(
    policies: Policies, question: Question, cfg: HierSearchConfig = CFG
) -> EpisodeOutcome:
    outcome = await play_episode(GAME, build(policies, cfg), _task(question), cfg, worker="w0")
    assert outcome.ok, outcome.episode.errors
    return outcome


def _rewards(outcome: EpisodeOutcome, role: str) -> list[float]:
    return [r.reward for r in outcome.episode.rewards if r.role == role]


# The split and the questions.


def test_the_kind_split_puts_people_and_organisations_local_and_the_rest_on_the_web(
    sources: Sources,
) -> None:
    world, split = sources.world, sources.split
    local_kinds = {world.entity(i).kind for i in split.local}
    web_kinds = {world.entity(i).kind for i in split.web}
    assert local_kinds == {Kind.PERSON, Kind.ORGANISATION}
    assert web_kinds == {Kind.CITY, Kind.COUNTRY, Kind.EVENT}
    assert split.local | split.web == {a.id for a in world.articles}
    # Each source's index holds its own side only.
    assert {p.id for p in sources.local.passages} == split.local
    assert {p.id for p in sources.web.passages} == split.web


def test_two_hop_questions_need_both_sources_and_held_out_ones_stay_out_of_training() -> None:
    for hops in (1, 2):
        held = {q.id for q in heldout_questions(CFG, hops)}
        probe = {q.id for q in probe_questions(CFG, hops)}
        pool = {q.id for q in training_questions(CFG, hops)}
        assert held and probe and pool
        assert not held & probe and not (held | probe) & pool
    split = sources_for(CFG).split
    assert all(split.needs_both(q) for q in training_questions(CFG, 2))
    assert all(split.needs_both(q) for q in heldout_questions(CFG, 2))


def test_the_config_sorts_its_local_kinds_and_refuses_all_or_none() -> None:
    cfg = HierSearchConfig(local_kinds=(Kind.PERSON, Kind.ORGANISATION, Kind.PERSON))
    assert cfg.local_kinds == (Kind.ORGANISATION, Kind.PERSON)
    with pytest.raises(ValueError, match="some entity kinds but not all"):
        HierSearchConfig(local_kinds=tuple(Kind))
    with pytest.raises(ValueError, match="some entity kinds but not all"):
        HierSearchConfig(local_kinds=())


def test_start_refuses_tasks_it_cannot_play(question: Question) -> None:
    good = _task(question).params
    for bad, match in (
        ({**good, "question": " "}, "params.question"),
        ({**good, "golds": []}, "params.golds"),
        ({**good, "hops": 3}, "params.hops"),
        ({**good, "chain": good["chain"][:1]}, "params.chain"),  # type: ignore[index]
        ({**good, "chain": [{"subject": "x"}, {}]}, "malformed params.chain"),
    ):
        with pytest.raises(GameError, match=match):
            start(Task(run="t", game="hiersearch", params=bad), CFG)
    assert start(_task(question), CFG)["hops"] == 2


# Whole episodes on scripted policies: delegation, refinement and pay.


async def test_an_oracle_episode_pays_every_role_and_nests_each_delegation(
    question: Question, sources: Sources
) -> None:
    outcome = await _play(Policies(default=_oracle(question, sources)), question)
    episode = outcome.episode
    assert _rewards(outcome, Role.PLANNER) == [1.0, 1.0]
    # Each of the 2 planners asks each source once.
    assert _rewards(outcome, "local_agent") == [1.0] * 2
    assert _rewards(outcome, "web_agent") == [1.0] * 2
    # Each sub-agent search returns agent_k = 2 documents; the oracle refiner keeps the one asked
    # about: paid the planner's EM less the keeping cost, and the full EM for a drop.
    assert sorted(_rewards(outcome, Role.REFINER)) == [0.8] * 4 + [1.0] * 4
    assert episode.stats["em/h2"] == 1.0 and episode.stats["agent_em"] == 1.0
    assert episode.stats["kept_share"] == 0.5 and episode.stats["delegations"] == 2.0
    # Every call is a trained sample, and every sub-agent and refiner turn is named, once, by
    # the planner tool call it answered.
    by_id = {t.call_id: t for t in episode.turns}
    assert {s.id for s in outcome.samples} == set(by_id)
    named = [
        i
        for t in episode.turns
        if t.role == Role.PLANNER
        for call in t.tool_calls
        for i in call.data["calls"]  # type: ignore[union-attr]
    ]
    assert sorted(named) == sorted(i for i, t in by_id.items() if t.role != Role.PLANNER)
    nodes = {t.role: t.node for t in episode.turns}
    assert nodes["local_agent"] == "local_search" and nodes["web_agent"] == "web_search"
    planner = next(t for t in episode.turns if t.role == Role.PLANNER)
    first = planner.tool_calls[0]
    assert first.result.startswith(f"answer: {question.chain[0].value}\n")
    assert first.data["kept"] == [question.chain[0].article_id] and len(first.data["dropped"]) == 1


async def test_a_sub_agent_answering_wrong_is_paid_nothing_whatever_the_planner_did(
    question: Question, sources: Sources
) -> None:
    def wrong(text: str, turn: int) -> str:
        return "<search>anything</search>" if turn == 0 else "<answer>Nowhere</answer>"

    outcome = await _play(Policies(default=_oracle(question, sources, agent=wrong)), question)
    # The scripted planner still answers the gold: its EM is 1, its agents' is 0.
    assert _rewards(outcome, Role.PLANNER) == [1.0, 1.0]
    assert _rewards(outcome, "local_agent") == [0.0] * 2
    assert _rewards(outcome, "web_agent") == [0.0] * 2
    assert outcome.episode.stats["agent_em"] == 0.0


async def test_a_sub_question_off_the_chain_is_paid_a_share_of_the_planners_match(
    question: Question, sources: Sources
) -> None:
    policy = _oracle(question, sources)
    hierarchy = Hierarchy(Policies(default=policy), CFG)
    assert checkable_hop("Who is the tallest person?", question.chain) is None
    assert (
        checkable_hop(sub_question(question.chain[1], sources.world), question.chain)
        == (question.chain[1])
    )

    def off_chain(messages: list[ChatMessage]) -> str:
        text = messages[-1].content
        if "plan with" in text and RESULT_OPEN not in text:
            return "<web>Who is the tallest person?</web>"
        return policy_reply(messages)

    policy_reply = policy._script
    outcome = await _play(Policies(default=ScriptedPolicy(off_chain)), question)
    assert _rewards(outcome, Role.PLANNER) == [1.0, 1.0]
    # Each planner's first delegation is off the chain; the oracle's next one (the second hop)
    # is checkable and right.
    paid = _rewards(outcome, "web_agent") + _rewards(outcome, "local_agent")
    assert sorted(paid) == [CFG.agent_share] * 2 + [1.0] * 2
    assert hierarchy.agent_graph("local") is not None


async def test_a_wrong_planner_answer_is_paid_nothing_and_its_refiner_judgements_less(
    question: Question, sources: Sources
) -> None:
    policy = _oracle(question, sources, planner_answer="Nowhere")
    outcome = await _play(Policies(default=policy), question)
    assert _rewards(outcome, Role.PLANNER) == [0.0, 0.0]
    assert sorted(_rewards(outcome, Role.REFINER)) == [-0.2] * 4 + [0.0] * 4
    assert outcome.episode.stats["signal"] == 0.0


async def test_a_sub_agent_that_times_out_is_an_error_text_and_the_planner_goes_on(
    question: Question, sources: Sources
) -> None:
    oracle = _oracle(question, sources)

    async def slow(messages: list[ChatMessage]) -> str:
        if messages[-1].content.split("user: ", 1)[-1].startswith("search"):
            await asyncio.sleep(5)
        return oracle._script(messages)

    cfg = CFG.model_copy(update={"agent_timeout_s": 0.05, "n_planners": 1})
    outcome = await _play(Policies(default=ScriptedPolicy(slow)), question, cfg)
    planner = next(t for t in outcome.episode.turns if t.role == Role.PLANNER)
    assert [c.error for c in planner.tool_calls] == [
        f"ToolError: the {sources.split.half(h.article_id)} agent did not answer within 0.05 s"
        for h in question.chain
    ]
    assert "error: ToolError: the" in planner.completion
    assert _rewards(outcome, Role.PLANNER) == [1.0]  # the script answers anyway
    assert outcome.episode.stats["agent_errors"] == 1.0
    delegated = [v for v in outcome.episode.verdicts if v.name == "delegated"]
    assert len(delegated) == 2 and not any(v.ok for v in delegated)


async def test_a_sub_agent_whose_policy_fails_is_an_error_text_not_a_crashed_episode(
    question: Question, sources: Sources
) -> None:
    def broken(messages: list[ChatMessage]) -> str:
        raise RuntimeError("the agent's server is down")

    overrides = {"local_agent": ScriptedPolicy(broken), "web_agent": ScriptedPolicy(broken)}
    policies = Policies(default=_oracle(question, sources), overrides=overrides)
    outcome = await _play(policies, question)
    planner = next(t for t in outcome.episode.turns if t.role == Role.PLANNER)
    assert all("agent's server is down" in (c.error or "") for c in planner.tool_calls)
    assert not _rewards(outcome, "local_agent") and not _rewards(outcome, Role.REFINER)


# The refiner.


def _hits(sources: Sources, question: Question) -> list[Hit]:
    hop = question.chain[0]
    library = sources.half(sources.split.half(hop.article_id))
    return library.search_now(hop.title, 3, "bm25")


async def test_the_refiner_off_keeps_everything_and_embedding_keeps_the_top_share(
    question: Question, sources: Sources
) -> None:
    hits, asked = _hits(sources, question), sub_question(question.chain[0], sources.world)
    policy = ScriptedPolicy(lambda m: "yes")
    kept, record = await refine("off", asked, hits, CFG, embedder=sources.embedder, policy=policy)
    assert kept == hits and record.dropped == [] and not policy.calls
    cfg = CFG.model_copy(update={"refiner_keep": 0.34})
    kept, record = await refine(
        "embedding", asked, hits, cfg, embedder=sources.embedder, policy=policy
    )
    assert len(kept) == 2 and len(record.dropped) == 1 and not policy.calls  # ceil(.34 x 3)
    assert question.chain[0].article_id in record.kept  # the article asked about is relevant
    assert embedding_keep(sources.embedder, asked, [], 0.5) == []
    assert sum(embedding_keep(sources.embedder, asked, hits, 0.01)) == 1  # at least one


async def test_the_policy_refiner_keeps_a_document_it_cannot_read_a_word_about(
    question: Question, sources: Sources
) -> None:
    hits, asked = _hits(sources, question), sub_question(question.chain[0], sources.world)
    words = iter(["yes", "No.", "maybe"])
    policy = ScriptedPolicy(lambda m: next(words))
    kept, record = await refine(
        "policy", asked, hits, CFG, embedder=sources.embedder, policy=policy
    )
    assert [j.keep for j in record.judgements] == [True, False, True]
    assert [j.readable for j in record.judgements] == [True, True, False]
    assert kept == [hits[0], hits[2]] and record.dropped == [hits[1].id]
    assert [parse_keep(w).keep for w in ("YES", "no.", "", "yes no")] == [True, False, None, None]


async def test_an_unreadable_refiner_word_is_paid_the_format_penalty(
    question: Question, sources: Sources
) -> None:
    policy = _oracle(question, sources, refiner=lambda asked, document: "perhaps")
    outcome = await _play(Policies(default=policy), question)
    assert _rewards(outcome, Role.REFINER) == [CFG.refiner_format_penalty] * 8
    assert outcome.episode.stats["kept_share"] == 1.0
    assert outcome.episode.stats["refiner_unreadable"] == 1.0


async def test_the_embedding_and_off_refiners_make_no_calls_and_train_nothing(
    question: Question, sources: Sources
) -> None:
    for mode in ("embedding", "off"):
        cfg = CFG.model_copy(update={"refiner": mode})
        outcome = await _play(Policies(default=_oracle(question, sources)), question, cfg)
        assert not _rewards(outcome, Role.REFINER)
        assert {t.role for t in outcome.episode.turns} == {Role.PLANNER, "local_agent", "web_agent"}
        expected = 0.5 if mode == "embedding" else 1.0
        assert outcome.episode.stats["kept_share"] == expected


# Demonstrations, evaluation and readiness.


# Proposed questions (questions='proposer'): the search game's proposer and verifier on top.

PROPOSING = CFG.model_copy(
    update={
        "questions": "proposer",
        "proposer_params": SamplingParams(max_new_tokens=256),
        "verifier_params": SamplingParams(max_new_tokens=256, temperature=0.0),
    }
)


def _proposer_task(question: Question) -> Task:
    return Task(
        run="t", game="hiersearch", params={"answer": question.answers[0], "hops": question.hops}
    )


def _proposing(question: Question, sources: Sources, *, written: str | None = None,
               verifier_says: str | None = None) -> Policies:  # fmt: skip
    """The oracle in every hierarchy role; a proposer that searches the chain's subjects and
    writes `written` (the fact table's question); a verifier that searches them too and says
    `verifier_says` (the gold). One policy plays them all, so every role's call is trained."""

    def chain_then(final: str) -> Reply:
        def reply(text: str, turn: int) -> str:
            if turn < question.hops:
                return f"<search>{question.chain[turn].title}</search>"
            return f"<answer>{final}</answer>"

        return reply

    oracle = _oracle(
        question,
        sources,
        proposer=chain_then(written or question.text),
        verifier=chain_then(verifier_says or question.answers[0]),
    )
    return Policies(default=oracle)


async def _play_proposed(policies: Policies, question: Question) -> EpisodeOutcome:
    graph = build(policies, PROPOSING)
    outcome = await play_episode(GAME, graph, _proposer_task(question), PROPOSING, worker="w0")
    assert outcome.ok, outcome.episode.errors
    return outcome


async def test_a_verified_proposed_question_goes_to_the_planners_and_pays_the_proposer(
    question: Question, sources: Sources
) -> None:
    outcome = await _play_proposed(_proposing(question, sources), question)
    assert _rewards(outcome, Role.PLANNER) == [1.0, 1.0]
    # Solved by every planner: the proposer's 1 - p is 0; a proposed question has no chain from
    # the fact table, so each sub-agent is paid agent_share x the planner's match.
    assert _rewards(outcome, Role.PROPOSER) == [0.0]
    assert _rewards(outcome, "local_agent") == [0.5, 0.5]
    assert _rewards(outcome, "web_agent") == [0.5, 0.5]
    stats = outcome.episode.stats
    assert stats["valid"] == 1.0 and stats["em"] == 1.0 and stats["searches"] == 2.0
    # The verifier's call is recorded and never paid, so never trained.
    roles = {t.role for t in outcome.episode.turns}
    assert Role.VERIFIER in roles
    assert Role.VERIFIER not in {s.role for s in outcome.samples}
    verdicts = {v.name: v for v in outcome.episode.verdicts if v.role == Role.PROPOSER}
    assert verdicts["rag_verified"].ok


async def test_a_proposal_that_shows_its_answer_gets_the_format_penalty_and_no_planner(
    question: Question, sources: Sources
) -> None:
    policies = _proposing(question, sources, written=f"Is it {question.answers[0]}?")
    outcome = await _play_proposed(policies, question)
    assert _rewards(outcome, Role.PROPOSER) == [-0.5]
    assert _rewards(outcome, Role.PLANNER) == []
    assert {t.role for t in outcome.episode.turns} == {Role.PROPOSER}
    assert outcome.episode.stats["filtered"] == 1.0


async def test_a_proposed_question_the_verifier_gets_wrong_is_unpaid_and_never_planned(
    question: Question, sources: Sources
) -> None:
    outcome = await _play_proposed(_proposing(question, sources, verifier_says="Nobody"), question)
    assert _rewards(outcome, Role.PROPOSER) == [0.0]
    assert _rewards(outcome, Role.PLANNER) == []
    stats = outcome.episode.stats
    assert stats["valid"] == 0.0 and stats["filtered"] == 0.0
    rag = next(v for v in outcome.episode.verdicts if v.name == "rag_verified")
    assert not rag.ok and "'Nobody'" in rag.reason


def test_proposer_mode_tasks_give_an_answer_and_start_refuses_one_without(
    question: Question,
) -> None:
    from sparring.graphs.hiersearch import tasks

    task = tasks(random.Random(0), PROPOSING, 2)
    assert set(task) == {"answer", "hops"} and task["hops"] == 2
    assert start(_proposer_task(question), PROPOSING) == {
        "answer": question.answers[0],
        "hops": 2,
    }
    with pytest.raises(GameError, match=r"params\.answer"):
        start(Task(run="t", game="hiersearch", params={"hops": 2}), PROPOSING)


def test_proposer_mode_demonstrations_teach_the_proposer_and_the_verifier_too() -> None:
    rng, seen = random.Random(0), set()
    cfg = PROPOSING.model_copy(update={"warmup_proposer_share": 0.5})
    held_out = {q.text for h in cfg.hop_counts for q in heldout_questions(cfg, h)}
    for _ in range(80):
        messages, _completion = demonstration(rng, cfg)
        head = messages[0].content
        seen.add(head.split("\n", 1)[0].split(" ", 1)[0])
        if head.startswith("question: "):  # the verifier's: never a held-out question
            assert head.removeprefix("question: ") not in held_out
    assert seen == {"plan", "search", "refine", "answer:", "question:"}


def test_demonstrations_are_what_the_oracle_plays(question: Question, sources: Sources) -> None:
    text = planner_demonstration(question, sources, CFG)
    for hop in question.chain:
        half = sources.split.half(hop.article_id)
        assert f"<{half}>{sub_question(hop, sources.world)}</{half}>" in text
        assert f"answer: {hop.value}\n[{hop.title}]" in text
    assert text.endswith(f"<answer>{question.answers[0]}</answer>")
    agent = agent_demonstration(question.chain[1], sources, CFG)
    assert agent.startswith(f"<search>{question.chain[1].title}</search>")
    rng, seen = random.Random(0), set()
    for _ in range(60):
        messages, completion = demonstration(rng, CFG)
        seen.add(messages[0].content.split("\n", 1)[0].split(" ", 1)[0])
        if isinstance(completion, str):
            assert completion in ("yes", "no")
        else:
            assert any(not learned for _, learned in completion)  # results are given, not learned
    assert seen == {"plan", "search", "refine"}


async def test_evaluation_and_readiness_play_the_whole_hierarchy(sources: Sources) -> None:
    questions = {
        q.text: q for h in (1, 2) for q in heldout_questions(CFG, h) + probe_questions(CFG, h)
    }

    def reply(messages: list[ChatMessage]) -> str:
        text = messages[-1].content
        asked = (
            next(q for t, q in questions.items() if f"question: {t}" in text)
            if "plan with" in text
            else None
        )
        if asked is not None:
            return _oracle(asked, sources)._script(messages)
        for q in questions.values():
            if any(sub_question(h, sources.world) in text for h in q.chain):
                return _oracle(q, sources)._script(messages)
        return "no"

    figures = await evaluate(ScriptedPolicy(reply), CFG)
    assert figures["em_greedy/h1"] == figures["em_greedy/h2"] == 1.0
    assert figures["read_tokens/h2"] > figures["read_tokens/h1"] > 0
    assert (await ready(ScriptedPolicy(reply), CFG)).ready
    blank = ScriptedPolicy(lambda m: "<answer>nobody</answer>")
    said = await ready(blank, CFG)
    assert not said.ready and said.figures == {"em/h1": 0.0, "em/h2": 0.0}
    need1, need2 = CFG.warmup_ready[1], CFG.warmup_ready[2]
    assert (
        said.summary() == f"em/h1 0.00 (needs {need1:.2f}), em/h2 0.00 (needs {need2:.2f}): not yet"
    )
    assert (await evaluate(blank, CFG))["em_greedy"] == 0.0


# The tiny real model.


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransformersPolicy]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield TransformersPolicy(build_tiny_model(Path(tmp_path_factory.mktemp("tiny"))), device="cpu")
    torch.set_num_threads(threads)


async def test_whole_episodes_on_the_tiny_model_record_exact_trainable_samples(
    question: Question, sources: Sources, tiny: TransformersPolicy
) -> None:
    cfg = CFG.model_copy(
        update={
            "planner": SamplingParams(max_new_tokens=96, top_p=0.9),  # room for the script
            "agent": SamplingParams(max_new_tokens=48, top_p=0.9),
            "refiner_params": SamplingParams(max_new_tokens=3, top_p=0.9),
            "planner_budget": 512,
            "agent_budget": 256,
        }
    )
    # The untrained model neither delegates nor searches: scripted roles above it make sure the
    # real model also plays the sub-agents (under a scripted planner) and the refiner (under
    # scripted agents too).
    scripted = _oracle(question, sources)
    agents = {r: scripted for r in (Role.PLANNER, "local_agent", "web_agent")}
    graphs = [
        build(Policies(default=tiny), cfg),
        build(Policies(default=tiny, overrides={Role.PLANNER: scripted}), cfg),
        build(Policies(default=tiny, overrides=agents), cfg),
    ]
    outcomes = await asyncio.gather(*(play_episode(GAME, g, _task(question), cfg) for g in graphs))
    for outcome in outcomes:
        assert outcome.ok, outcome.episode.errors
        turns = {t.sample_id: t for t in outcome.episode.turns}
        for sample in outcome.samples:
            turn = turns[sample.id]
            assert sample.prompt_ids.tolist() == tiny.render(turn.messages)
            assert tiny.decode(sample.completion_ids.tolist()) == turn.completion
            assert sample.policy_version == 0 and sample.reward is not None
            assert all(math.isfinite(lp) and lp <= 0 for lp in sample.logprobs.tolist())
    # Only the real model's calls are trained, whichever roles it played.
    assert {s.role for s in outcomes[0].samples} >= {Role.PLANNER}
    assert {s.role for s in outcomes[1].samples} == {"local_agent", "web_agent"}
    assert {s.role for s in outcomes[2].samples} == {Role.REFINER}
    assert len(outcomes[2].samples) == 2 * 2 * CFG.agent_k  # planners x delegations x documents


async def test_a_proposed_question_episode_on_the_tiny_model_pays_and_records_the_proposer(
    question: Question, sources: Sources, tiny: TransformersPolicy
) -> None:
    # The untrained model plays the proposer (and the verifier, planners and agents where its
    # question gets that far): whatever it writes, the episode ends, the proposer is paid by
    # the search rule and its sample is exactly what it generated.
    cfg = PROPOSING.model_copy(
        update={
            "proposer_params": SamplingParams(max_new_tokens=24, top_p=0.9),
            "planner": SamplingParams(max_new_tokens=48, top_p=0.9),
            "agent": SamplingParams(max_new_tokens=24, top_p=0.9),
            "refiner_params": SamplingParams(max_new_tokens=3, top_p=0.9),
            "planner_budget": 256,
            "agent_budget": 128,
        }
    )
    graph = build(Policies(default=tiny), cfg)
    outcome = await play_episode(GAME, graph, _proposer_task(question), cfg)
    assert outcome.ok, outcome.episode.errors
    proposer = [s for s in outcome.samples if s.role == Role.PROPOSER]
    stats = outcome.episode.stats
    if stats["filtered"] == 1.0:
        paid = -0.5  # the format penalty
    elif stats["valid"] == 0.0:
        paid = 0.0  # unverified
    else:
        paid = 1.0 - stats["em"]
    assert len(proposer) == 1 and proposer[0].reward == pytest.approx(paid)
    turn = next(t for t in outcome.episode.turns if t.role == Role.PROPOSER)
    assert turn.messages[0].content == f"answer: {question.answers[0]}\nsearches: 2"
    assert tiny.decode(proposer[0].completion_ids.tolist()) == turn.completion


def test_the_drawing_shows_both_sub_agents_inside_the_planners_loop() -> None:
    policies = Policies(default=ScriptedPolicy(lambda m: "no"))
    mermaid = GAME.drawing(policies, CFG).get_graph(xray=True).draw_mermaid()
    flat = mermaid.replace("\\3a", ":")  # Mermaid escapes the ':' of a nested node's id
    for half, role in (("local", "local_agent"), ("web", "web_agent")):
        assert f"subgraph {role}" in mermaid
        assert f"plan -.-> {role}:{half}_search" in flat  # delegated to
        assert f"{role}:{half}_search --> {role}:{half}_refine" in flat
        assert f"{role}:{half}_refine --> plan" in flat  # and heard back from
