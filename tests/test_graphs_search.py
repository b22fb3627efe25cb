"""The search game: every filter, the verifier's fail-closed paths, every reward path, oracle
demonstrations and held-out evaluation on scripted policies, and whole episodes on the tiny model.

The world (120 articles) and its index are built once for the module; scripted policies answer
by the prompt's first line ("answer:" proposer, "question:" solver) and by how many search
results the trajectory holds so far; the RAG verifier, asked what a solver is asked, has a
script of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sparring.errors import GameError
from sparring.graphs import EpisodeOutcome, Policies, load_game, play_episode
from sparring.graphs.search import SearchGameConfig, check_proposal, proposer_reward
from sparring.graphs.search.graph import attempt_question, build
from sparring.graphs.search.heldout import (
    backward_demonstration,
    demonstration,
    evaluate,
    heldout_questions,
    probe_questions,
    solver_demonstration,
    tasks,
    training_questions,
)
from sparring.graphs.search.library import Library, library_for, oracle_recall
from sparring.graphs.search.verifier import verify_question
from sparring.messages import ChatMessage, Episode, Role, Task
from sparring.policy import SamplingParams, ScriptedPolicy
from sparring.policy.tiny import build_tiny_model
from sparring.policy.transformers_backend import TransformersPolicy
from sparring.tools.search import Hit
from sparring.tools.world import Question, make_questions

GAME = load_game("search")
# The scripted policy's tokens are bytes: turns and trajectories need room for whole sentences.
CFG = SearchGameConfig(
    world_articles=120,
    eval_questions=4,
    warmup_probe=2,
    budget=4096,
    proposer=SamplingParams(max_new_tokens=256),
    solver=SamplingParams(max_new_tokens=256),
    verifier=SamplingParams(max_new_tokens=256, temperature=0.0),
)


@pytest.fixture(scope="module")
def library() -> Library:
    return library_for(CFG)


@pytest.fixture(scope="module")
def question(library: Library) -> Question:
    """A 2-hop question of the world with an entity answer."""
    assert library.world is not None
    return next(q for q in make_questions(library.world, 2, 50) if q.answer_id is not None)


Turns = Callable[[str, int], str]


def _script(proposer: Turns, solver: Turns, verifier: Callable[[str], str]) -> Policies:
    """Scripted policies: each role's reply from its prompt text and the results seen so far."""

    def reply(messages: list[ChatMessage]) -> str:
        text = messages[-1].content
        turn = text.count("<result>")
        if "question: " in text:
            return solver(text, turn)
        return proposer(text, turn)

    checker = ScriptedPolicy(lambda messages: verifier(messages[-1].content))
    return Policies(default=ScriptedPolicy(reply), overrides={Role.VERIFIER: checker})


def _searches_then(queries: list[str], final: str) -> Turns:
    return lambda text, turn: f"<search>{queries[turn]}</search>" if turn < len(queries) else final


def _solvers_right(question: Question, right: int) -> Turns:
    """Solvers that search the chain; the first `right` to answer give the gold answer."""
    answers = itertools.count()

    def solve(text: str, turn: int) -> str:
        if turn < question.hops:
            return f"<search>{question.titles[turn]}</search>"
        ok = next(answers) < right
        return f"<answer>{question.answers[0] if ok else 'Nowhere'}</answer>"

    return solve


def _honest(question: Question) -> Turns:
    return _searches_then(list(reversed(question.titles)), f"<answer>{question.text}</answer>")


def _gold(question: Question) -> Callable[[str], str]:
    return lambda text: f"<answer>{question.answers[0]}</answer>"


async def _play(
    library: Library, script: Policies, question: Question, cfg: SearchGameConfig = CFG
) -> EpisodeOutcome:
    graph = build(script, cfg, library)
    task = Task(
        run="t", game="search", params={"answer": question.answers[0], "hops": question.hops}
    )
    outcome = await play_episode(GAME, graph, task, cfg, worker="w0")
    assert outcome.ok, outcome.episode.errors
    return outcome


# The filters.


def _checks(outcome: str = "answer", question: str | None = "Who founded the Orun Guild?",
            queries: tuple[str, ...] = ("Orun Guild", "Baro Kelotin"), answer: str = "Misadel",
            hops: int = 2) -> dict[str, bool]:  # fmt: skip
    return {
        c.name: c.ok for c in check_proposal(outcome, question, list(queries), answer, hops, CFG)
    }


def test_a_researched_question_that_hides_its_answer_passes_every_filter() -> None:
    assert _checks() == dict.fromkeys(
        ["format", "length", "answer_hidden", "searches", "distinct_queries"], True
    )


def test_the_format_filter_refuses_a_loop_that_ended_without_a_question() -> None:
    assert not _checks(outcome="malformed", question=None)["format"]
    assert not _checks(outcome="max_turns", question=None)["format"]
    assert not _checks(question="   ")["format"]


def test_the_length_filter_refuses_questions_too_short_or_too_long() -> None:
    assert not _checks(question="Who?")["length"]
    assert not _checks(question="Who " * 60 + "?")["length"]


def test_the_answer_filter_finds_the_answer_raw_or_normalised() -> None:
    assert not _checks(question="Was Baro born in Misadel?")["answer_hidden"]
    assert not _checks(question="Who founded the orun guild?", answer="The Orun Guild!")[
        "answer_hidden"
    ]
    assert _checks(question="Who was born in Misadelo?", answer="Misadel")["answer_hidden"] is False
    assert _checks(question="Who founded the guild of Orun?", answer="Orun Guild")["answer_hidden"]


def test_too_few_distinct_searches_fail_the_search_count() -> None:
    assert not _checks(queries=("Orun Guild",), hops=2)["searches"]
    assert not _checks(queries=("Orun Guild", "orun  guild"), hops=2)["searches"]
    assert _checks(queries=("a", "b", "c"), hops=3)["searches"]


def test_a_repeated_query_fails_even_when_there_are_enough_searches() -> None:
    checks = _checks(queries=("Orun Guild", "Baro Kelotin", "the Orun guild"), hops=2)
    assert checks["searches"] and not checks["distinct_queries"]


# The RAG verifier fails closed.

DOCS = [Hit("person-1", "Baro Kelotin", "Baro Kelotin was born in Misadel.", 1.0)]
NOISE = [Hit("city-2", "Amsel", "Amsel is a city in Rotele.", 0.0)]


async def _verify(reply: Callable, cfg: SearchGameConfig = CFG):
    policy = ScriptedPolicy(reply)
    verdict = await verify_question(
        policy, "Where was Baro Kelotin born?", DOCS, NOISE, ["Misadel"], 2, cfg, random.Random(0)
    )
    return verdict, policy


async def test_the_verifier_searches_only_the_proposers_documents_and_the_noise() -> None:
    turns = _searches_then(["Baro Kelotin", "Amsel", "Orun Guild"], "<answer>misadel</answer>")
    verdict, policy = await _verify(
        lambda m: turns(m[-1].content, m[-1].content.count("<result>")),
        CFG.model_copy(update={"solver_k": 2}),
    )
    # Each search of the loop as the solver's prompt asks it ("question: ..."), no documents.
    first = policy.calls[0][0].content
    assert "question: Where was Baro Kelotin born?" in first and "Misadel" not in first
    last = policy.calls[-1][0].content
    assert "[Baro Kelotin] Baro Kelotin was born in Misadel." in last and "[Amsel]" in last
    assert "no results" in last  # the Orun Guild is in the corpus, not among these documents
    assert verdict.valid and verdict.answer == "misadel" and "'Amsel'" in verdict.reason
    assert sorted(verdict.document_ids) == ["city-2", "person-1"] and verdict.noise_ids == [
        "city-2"
    ]


async def test_a_verifier_answer_that_is_not_the_gold_makes_the_question_invalid() -> None:
    verdict, _ = await _verify(lambda m: "<answer>Amsel</answer>")
    assert not verdict.valid and "'Amsel'" in verdict.reason


async def test_an_unparsable_verifier_answer_makes_the_question_invalid() -> None:
    verdict, _ = await _verify(lambda m: "Misadel")  # right, but not in the tag
    assert not verdict.valid and "no answer" in verdict.reason and verdict.answer is None


async def test_a_verifier_error_makes_the_question_invalid() -> None:
    def broken(messages: list[ChatMessage]) -> str:
        raise RuntimeError("backend fell over")

    verdict, _ = await _verify(broken)
    assert not verdict.valid and "RuntimeError: backend fell over" in verdict.reason


async def test_a_verifier_past_its_timeout_makes_the_question_invalid() -> None:
    async def slow(messages: list[ChatMessage]) -> str:
        await asyncio.sleep(5)
        return "<answer>Misadel</answer>"

    verdict, _ = await _verify(slow, CFG.model_copy(update={"verifier_timeout_s": 0.05}))
    assert not verdict.valid and "timed out" in verdict.reason


# Whole episodes on scripted policies: every reward path.


async def test_a_verified_question_pays_solvers_by_exact_match_and_the_proposer_one_minus_the_rate(
    library: Library, question: Question
) -> None:
    outcome = await _play(
        library, _script(_honest(question), _solvers_right(question, 3), _gold(question)), question
    )
    ep = outcome.episode
    solvers = [s for s in outcome.samples if s.role == Role.SOLVER]
    assert len(solvers) == 5 and {s.group_size for s in solvers} == {5}
    assert len({s.group_id for s in solvers}) == 1
    assert sorted(s.reward for s in solvers) == [0.0, 0.0, 1.0, 1.0, 1.0]
    [proposer_sample] = [s for s in outcome.samples if s.role == Role.PROPOSER]
    assert proposer_sample.reward == pytest.approx(0.4)
    assert ep.stats["valid"] == ep.stats["valid/h2"] == 1.0
    assert ep.stats["solve_rate"] == pytest.approx(0.6)
    assert ep.stats["signal"] == 1.0 and ep.stats["solve_rate/h2"] == pytest.approx(0.6)
    # The verifier was asked, recorded, and never trained.
    [verifier] = [t for t in ep.turns if t.role == Role.VERIFIER]
    assert verifier.sample_id is None
    assert verifier.messages[0].content == f"question: {question.text}"  # a solver's prompt
    # Searches are tool calls on each turn; verdicts name the documents by id.
    [proposer] = [t for t in ep.turns if t.role == Role.PROPOSER]
    assert [c.arguments["input"] for c in proposer.tool_calls] == list(reversed(question.titles))
    assert f"[{question.titles[0]}]" in proposer.tool_calls[1].result
    searched = [v for v in ep.verdicts if v.name == "searched" and v.role == Role.PROPOSER]
    assert question.chain[0].article_id in searched[0].reason
    rag = next(v for v in ep.verdicts if v.name == "rag_verified")
    assert rag.ok and "(noise)" in rag.reason
    # Tool output is masked out of every trained trajectory.
    for sample in outcome.samples:
        assert 0 in sample.loss_mask.tolist() and 1 in sample.loss_mask.tolist()


@pytest.mark.parametrize(
    ("rule", "right", "paid"),
    [
        ("inverse_solve_rate", 5, 0.0),
        ("absolute_zero", 2, 0.6),
        ("absolute_zero", 0, 0.0),
        ("learnability", 2, 0.96),
    ],
)
async def test_each_proposer_reward_rule_pays_by_the_solve_rate(
    library: Library, question: Question, rule: str, right: int, paid: float
) -> None:
    cfg = CFG.model_copy(update={"proposer_reward": rule})
    script = _script(_honest(question), _solvers_right(question, right), _gold(question))
    outcome = await _play(library, script, question, cfg)
    [proposer] = [s for s in outcome.samples if s.role == Role.PROPOSER]
    assert proposer.reward == pytest.approx(paid)


def test_proposer_reward_rules_at_the_edges() -> None:
    assert proposer_reward("inverse_solve_rate", 0.0)[0] == 1.0
    assert proposer_reward("learnability", 0.5)[0] == 1.0
    assert proposer_reward("absolute_zero", 1.0)[0] == 0.0


async def test_a_question_that_fails_a_filter_gets_the_format_penalty_and_no_verifier_or_solver(
    library: Library, question: Question
) -> None:
    shows = _searches_then(
        list(reversed(question.titles)), f"<answer>Is it {question.answers[0]}?</answer>"
    )
    outcome = await _play(
        library, _script(shows, _solvers_right(question, 5), _gold(question)), question
    )
    [sample] = outcome.samples
    assert sample.role == Role.PROPOSER and sample.reward == CFG.format_penalty
    assert {t.role for t in outcome.episode.turns} == {Role.PROPOSER}
    failed = {v.name for v in outcome.episode.verdicts if not v.ok}
    assert failed == {"filter/answer_hidden"} and outcome.episode.stats["filtered"] == 1.0


async def test_too_few_searches_fail_before_the_verifier(
    library: Library, question: Question
) -> None:
    lazy = _searches_then([question.titles[0]], f"<answer>{question.text}</answer>")
    outcome = await _play(
        library, _script(lazy, _solvers_right(question, 5), _gold(question)), question
    )
    assert [s.reward for s in outcome.samples] == [CFG.format_penalty]
    assert {v.name for v in outcome.episode.verdicts if not v.ok} == {"filter/searches"}


async def test_a_question_the_verifier_cannot_answer_pays_the_unverified_reward_and_no_solver(
    library: Library, question: Question
) -> None:
    wrong = _script(_honest(question), _solvers_right(question, 5), lambda t: "<answer>x</answer>")
    outcome = await _play(library, wrong, question)
    [sample] = outcome.samples
    assert sample.role == Role.PROPOSER and sample.reward == CFG.unverified_reward
    assert Role.SOLVER not in {t.role for t in outcome.episode.turns}
    rag = next(v for v in outcome.episode.verdicts if v.name == "rag_verified")
    assert not rag.ok and outcome.episode.stats["valid"] == outcome.episode.stats["valid/h2"] == 0.0


async def test_a_verifier_that_errors_inside_an_episode_rejects_the_question(
    library: Library, question: Question
) -> None:
    def verifier(text: str) -> str:
        raise RuntimeError("verifier down")

    outcome = await _play(
        library, _script(_honest(question), _solvers_right(question, 5), verifier), question
    )
    assert [s.reward for s in outcome.samples] == [CFG.unverified_reward]
    rag = next(v for v in outcome.episode.verdicts if v.name == "rag_verified")
    assert not rag.ok and "verifier down" in rag.reason


# The world: tasks, held-out set, oracle demonstrations, evaluation.


def test_one_hop_oracle_queries_find_the_gold_article(library: Library) -> None:
    assert library.world is not None
    pairs = [
        (q.chain[0].title, q.chain[0].article_id) for q in make_questions(library.world, 1, 60)
    ]
    assert oracle_recall(library, pairs, k=1)["bm25"] == 1.0


def test_tasks_ask_for_an_answer_of_the_world_and_a_hop_count_in_range(library: Library) -> None:
    assert library.world is not None
    names = {e.name for e in library.world.entities}
    rng = random.Random(0)
    for _ in range(20):
        task = tasks(rng, CFG)
        assert task["answer"] in names and task["hops"] in CFG.hop_counts


def _hops_outcome(hops: int, rate: float | None) -> EpisodeOutcome:
    task = Task(run="t", game="search", params={"answer": "Tubiso", "hops": hops})
    stats = {"hops": float(hops)} if rate is None else {"hops": float(hops), "solve_rate": rate}
    return EpisodeOutcome(
        samples=[], episode=Episode(run="t", game="search", task=task, stats=stats)
    )


def test_the_adaptive_curriculum_draws_the_hop_count_nearest_half_solved(library: Library) -> None:
    source = load_game("search").task_source(CFG, seed=0)
    assert source.probabilities() == {h: pytest.approx(1 / 3) for h in (1, 2, 3)}  # none seen
    for _ in range(32):
        source.observe(_hops_outcome(1, 1.0))
        source.observe(_hops_outcome(2, 0.9))
        source.observe(_hops_outcome(3, 0.6))
        source.observe(_hops_outcome(3, None))  # unverified: no solver ran, counts for nothing
    probs = source.probabilities()
    assert probs[3] > 2 * probs[2] > 0 and probs[1] == pytest.approx(min(probs.values()))
    drawn = [source.next_params()["hops"] for _ in range(600)]
    assert drawn.count(3) > 2 * drawn.count(2) and drawn.count(1) > 0


def test_the_uniform_curriculum_poses_oracle_questions_at_every_hop_count_alike(
    library: Library,
) -> None:
    cfg = CFG.model_copy(update={"questions": "oracle", "curriculum": "uniform"})
    source = load_game("search").task_source(cfg, seed=1)
    for _ in range(32):
        source.observe(_hops_outcome(1, 1.0))
    assert source.probabilities() == {h: pytest.approx(1 / 3) for h in (1, 2, 3)}
    drawn = [source.next_params() for _ in range(300)]
    assert all(isinstance(t["question"], str) and t["answer"] in t["golds"] for t in drawn)  # type: ignore[operator]
    assert min(sum(t["hops"] == h for t in drawn) for h in (1, 2, 3)) > 70


async def test_oracle_questions_go_straight_to_the_solvers_and_train_no_proposer(
    library: Library, question: Question
) -> None:
    cfg = CFG.model_copy(update={"questions": "oracle"})
    task = tasks(random.Random(3), cfg)
    assert isinstance(task["question"], str) and task["answer"] in task["golds"]  # type: ignore[operator]
    graph = build(
        _script(_honest(question), _solvers_right(question, 2), _gold(question)),
        cfg,
        library,
    )  # fmt: skip
    params = {"answer": question.answers[0], "hops": 2, "question": question.text,
              "golds": list(question.answers)}  # fmt: skip
    outcome = await play_episode(GAME, graph, Task(run="t", game="search", params=params), cfg)
    assert outcome.ok, outcome.episode.errors
    assert {t.role for t in outcome.episode.turns} == {Role.SOLVER}
    assert sorted(s.reward for s in outcome.samples) == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert outcome.episode.stats["solve_rate/h2"] == pytest.approx(0.4)
    assert "valid" not in outcome.episode.stats  # nothing was proposed or verified


def test_an_oracle_task_without_its_question_is_refused() -> None:
    cfg = CFG.model_copy(update={"questions": "oracle"})
    with pytest.raises(GameError, match=r"params\.question"):
        GAME.start(Task(run="t", game="search", params={"answer": "Misadel", "hops": 1}), cfg)


async def test_solvers_read_solver_k_results_a_search_and_the_proposer_proposer_k(
    library: Library, question: Question
) -> None:
    cfg = CFG.model_copy(update={"solver_k": 1, "proposer_k": 3})
    script = _script(_honest(question), _solvers_right(question, 5), _gold(question))
    outcome = await _play(library, script, question, cfg)
    for turn in outcome.episode.turns:
        want = {Role.SOLVER: 1, Role.PROPOSER: 3}.get(turn.role)
        for call in turn.tool_calls if want else []:
            assert call.result.count("\n") + 1 == want, (turn.role, call.result)


def test_the_held_out_and_probe_questions_never_appear_in_the_training_pool() -> None:
    for hops in CFG.hop_counts:
        kept = {q.id for q in heldout_questions(CFG, hops)} | {
            q.id for q in probe_questions(CFG, hops)
        }
        assert kept and not kept & {q.id for q in training_questions(CFG, hops)}


async def test_the_oracle_solver_demonstration_replayed_by_the_tool_loop_is_exact_and_correct(
    library: Library, question: Question
) -> None:
    completion = solver_demonstration(question, library, CFG)
    turns = [t + "</search>" for t in completion.split("</search>")[:-1]]
    turns = [t.split("</result>")[-1] for t in turns] + [
        "<answer>" + completion.split("<answer>")[1]
    ]
    policy = ScriptedPolicy(lambda m: turns[m[-1].content.count("<result>")])
    attempt = await attempt_question(policy, question.text, list(question.answers), 2, library, CFG)
    assert attempt.em == 1.0 and attempt.queries == list(question.titles)
    recorded = policy.calls[-1][0].content
    assert recorded.endswith(completion.rsplit("<answer>", 1)[0])


async def test_a_backward_proposer_demonstration_passes_the_filters_and_is_verifiable(
    library: Library,
) -> None:
    assert library.world is not None
    rng, found = random.Random(1), 0
    for q in training_questions(CFG, 2)[:30]:
        completion = backward_demonstration(str(q.answer_id), 2, library, CFG, rng)
        if completion is None:
            continue
        found += 1
        written = completion.split("<answer>")[1].removesuffix("</answer>")
        queries = [s.split("<search>")[-1] for s in completion.split("</search>")[:-1]]
        assert queries[0] == q.answers[0]
        checks = check_proposal("answer", written, queries, q.answers[0], 2, CFG)
        assert all(c.ok for c in checks), checks
    assert found >= 5  # BM25 offers a chain from most answers


def test_demonstrations_cover_both_roles() -> None:
    rng = random.Random(0)
    prompts = [demonstration(rng, CFG)[0][0].content.split(":")[0] for _ in range(30)]
    assert {"answer", "question"} <= set(prompts)


async def test_evaluation_reports_exact_match_per_hop_count(library: Library) -> None:
    answers = {q.text: q for h in CFG.hop_counts for q in heldout_questions(CFG, h)}

    def oracle(messages: list[ChatMessage]) -> str:
        text = messages[-1].content
        q = next(q for asked, q in answers.items() if f"question: {asked}" in text)
        turn = text.count("<result>")
        return (
            f"<search>{q.titles[turn]}</search>"
            if turn < q.hops
            else f"<answer>{q.answers[0]}</answer>"
        )

    figures = await evaluate(ScriptedPolicy(oracle), CFG)
    assert figures["em_greedy/h1"] == figures["em_greedy/h3"] == 1.0 and figures["em_greedy"] == 1.0
    blank = await evaluate(ScriptedPolicy(lambda m: "<answer>nobody</answer>"), CFG)
    assert blank["em_sampled"] == 0.0 and set(blank) == set(figures)


# The tiny real model.


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransformersPolicy]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield TransformersPolicy(build_tiny_model(Path(tmp_path_factory.mktemp("tiny"))), device="cpu")
    torch.set_num_threads(threads)


async def test_whole_episodes_on_the_tiny_model_record_exact_trainable_samples(
    library: Library, question: Question, tiny: TransformersPolicy
) -> None:
    cfg = CFG.model_copy(
        update={
            "n_solvers": 3,
            "budget": 1024,  # the scripted proposer's byte tokens; the real model stops sooner
            "solver": SamplingParams(max_new_tokens=24, top_p=0.9),
            "proposer": SamplingParams(max_new_tokens=256, top_p=0.9),
        }
    )
    # The untrained model rarely writes a valid proposal; a scripted proposer and verifier in one
    # graph make sure the real model also plays the solvers.
    scripted = _script(_honest(question), _solvers_right(question, 0), _gold(question))
    graphs = [
        build(Policies(default=tiny), cfg, library),
        build(
            Policies(
                default=tiny,
                overrides={r: scripted.for_role(r) for r in (Role.PROPOSER, Role.VERIFIER)},
            ),
            cfg,
            library,
        ),
    ]
    task = Task(run="t", game="search", params={"answer": question.answers[0], "hops": 2})
    outcomes = await asyncio.gather(*(play_episode(GAME, g, task, cfg) for g in graphs))
    for outcome in outcomes:
        assert outcome.ok, outcome.episode.errors
        turns = {t.sample_id: t for t in outcome.episode.turns}
        for sample in outcome.samples:
            turn = turns[sample.id]
            assert sample.prompt_ids.tolist() == tiny.render(turn.messages)
            assert tiny.decode(sample.completion_ids.tolist()) == turn.completion
            assert len(sample.completion_ids) <= cfg.budget
            assert sample.policy_version == 0 and sample.reward is not None
            assert all(math.isfinite(lp) and lp <= 0 for lp in sample.logprobs.tolist())
    assert [s.role for s in outcomes[0].samples] == [Role.PROPOSER]  # filtered or unverified
    assert [s.role for s in outcomes[1].samples] == [Role.SOLVER] * 3
    assert {s.group_size for s in outcomes[1].samples} == {3}
