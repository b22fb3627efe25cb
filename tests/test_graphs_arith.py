"""The arith game end to end on a scripted policy: samples, groups, rewards, the episode record."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable

import pytest

from sparring.graphs import EpisodeOutcome, Policies, load_game, play_episode
from sparring.graphs.arith import ArithConfig, ArithTaskSource, heldout_problems, proposer_reward
from sparring.messages import ChatMessage, Episode, Role, Task
from sparring.policy import SamplingParams, ScriptedPolicy
from sparring.roles.proposer import backward_chain, parse_proposal
from sparring.tools import ExpressionError, evaluate, scratchpad

GAME = load_game("arith")
CFG = ArithConfig(n_solvers=5, max_difficulty=5, warmup_ready={1: 0.9})  # pinned: tests read 5s


def _script(
    propose: Callable[[int, int], str], solve: Callable[[str], str]
) -> Callable[[list[ChatMessage]], str]:
    """Proposer answers propose(target, ops); solvers answer solve(expression)."""

    def script(messages: list[ChatMessage]) -> str:
        text = messages[-1].content
        if text.startswith("target "):
            _, target, _, ops = text.split()
            problem = propose(int(target), int(ops))
            # The proposer shows its work; a malformed problem is passed on as written.
            return backward_chain(problem) if _well_formed(problem) else problem
        return solve(text.removeprefix("compute "))

    return script


def _well_formed(problem: str) -> bool:
    try:
        evaluate(problem)
    except ExpressionError:
        return False
    return True


def _honest(target: int, ops: int) -> str:
    return f"{target}" + "+0" * ops


def _solvers_right(k: int) -> Callable[[str], str]:
    """The first k solver calls answer right, the rest answer wrong."""
    counter = itertools.count()

    def solve(expression: str) -> str:
        right = scratchpad(expression)
        return right if next(counter) < k else right[:-1] + str((int(right[-1]) + 1) % 10)

    return solve


async def _play(
    policy: ScriptedPolicy, params: dict[str, int], cfg: ArithConfig = CFG
) -> EpisodeOutcome:
    graph = GAME.build(Policies(default=policy), cfg)
    task = Task(run="t", game="arith", params=dict(params))
    return await play_episode(GAME, graph, task, cfg, worker="w0")


async def test_a_full_episode_yields_one_proposer_sample_and_a_group_of_solvers() -> None:
    policy = ScriptedPolicy(_script(_honest, _solvers_right(2)), version=4)
    outcome = await _play(policy, {"target": 7, "difficulty": 3})
    episode = outcome.episode
    proposer = [s for s in outcome.samples if s.role == Role.PROPOSER]
    solvers = [s for s in outcome.samples if s.role == Role.SOLVER]
    assert len(proposer) == 1 and proposer[0].group_size == 1
    assert proposer[0].reward == pytest.approx(1 - 2 / 5)  # absolute_zero at p = 0.4
    assert len(solvers) == 5 and {s.group_id for s in solvers} == {solvers[0].group_id}
    assert {s.group_size for s in solvers} == {5}
    assert sorted(s.reward or 0.0 for s in solvers) == [0, 0, 0, 1, 1]
    assert proposer[0].group_id != solvers[0].group_id
    for s in outcome.samples:
        assert s.policy_version == 4 and s.episode_id == episode.id and s.run == "t"
        assert s.loss_mask.tolist() == [1] * len(s.completion_ids)
        assert len(s.logprobs) == len(s.completion_ids) > 0
    assert policy.decode(proposer[0].completion_ids.tolist()) == "7-0=7,7-0=7,7-0=7"
    assert [p.node for p in episode.path] == ["propose", "verify", *["solve"] * 5, "judge"]
    assert [t.role for t in episode.turns] == [Role.PROPOSER, *[Role.SOLVER] * 5]
    assert episode.turns[0].node == "propose" and episode.turns[1].node == "solve"
    assert episode.turns[0].parsed == {"valid": True, "expression": "7+0+0+0", "reason": ""}
    assert {t.sample_id for t in episode.turns} == {s.id for s in outcome.samples}
    assert [v.name for v in episode.verdicts] == ["valid_proposal", *["solved"] * 5]
    assert sum(v.ok for v in episode.verdicts) == 3
    assert {r.sample_id: r.reward for r in episode.rewards} == {
        s.id: s.reward for s in outcome.samples
    }
    assert episode.stats == {
        "valid": 1.0,
        "difficulty": 3.0,
        "solve_rate": 0.4,
        "solve_rate/d3": 0.4,
    }
    assert episode.errors == [] and episode.worker == "w0" and episode.policy_version == 4
    assert Episode.model_validate_json(episode.model_dump_json()) == episode


@pytest.mark.parametrize(
    ("proposal", "why"),
    [
        ("", "empty"),
        ("7 plus 0", "not like"),
        ("7+" * 40 + "0", "not like"),
        ("7+0+", "not like"),
        ("6+0+0", "wrong value"),
        ("7+0", "wrong number of operations"),
    ],
)
async def test_an_invalid_proposal_costs_the_format_penalty_and_trains_no_solver(
    proposal: str, why: str
) -> None:
    policy = ScriptedPolicy(_script(lambda t, d: proposal, _solvers_right(5)))
    long_answers = SamplingParams(max_new_tokens=128)  # lets the too-long proposal through
    cfg = CFG.model_copy(update={"format_penalty": -0.75, "proposer": long_answers})
    outcome = await _play(policy, {"target": 7, "difficulty": 2}, cfg)
    (sample,) = outcome.samples
    assert sample.role == Role.PROPOSER and sample.reward == -0.75 and sample.group_size == 1
    assert len(policy.calls) == 1  # no solver was asked
    (verdict,) = outcome.episode.verdicts
    assert not verdict.ok and why in verdict.reason and "none is trained" in verdict.reason
    assert outcome.episode.stats["valid"] == 0.0 and "solve_rate" not in outcome.episode.stats
    assert [p.node for p in outcome.episode.path] == ["propose", "verify"]


@pytest.mark.parametrize(
    ("rule", "p", "expected"),
    [
        ("inverse_solve_rate", 0.0, 1.0),
        ("inverse_solve_rate", 0.4, 0.6),
        ("inverse_solve_rate", 1.0, 0.0),
        ("absolute_zero", 0.0, 0.0),
        ("absolute_zero", 0.2, 0.8),
        ("absolute_zero", 1.0, 0.0),
        ("learnability", 0.0, 0.0),
        ("learnability", 0.5, 1.0),
        ("learnability", 0.8, 0.64),
    ],
)
def test_each_proposer_reward_rule_pays_as_documented(rule: str, p: float, expected: float) -> None:
    reward, reason = proposer_reward(rule, p)  # type: ignore[arg-type]
    assert reward == pytest.approx(expected) and reason


@pytest.mark.parametrize("rule", ["inverse_solve_rate", "absolute_zero", "learnability"])
async def test_the_configured_proposer_rule_is_the_one_paid(rule: str) -> None:
    policy = ScriptedPolicy(_script(_honest, _solvers_right(1)))
    cfg = CFG.model_copy(update={"proposer_reward": rule})
    outcome = await _play(policy, {"target": 3, "difficulty": 1}, cfg)
    (proposer,) = [s for s in outcome.samples if s.role == Role.PROPOSER]
    assert proposer.reward == pytest.approx(proposer_reward(rule, 0.2)[0])  # type: ignore[arg-type]


async def test_a_solver_is_paid_one_for_the_right_digit_and_zero_otherwise() -> None:
    policy = ScriptedPolicy(_script(lambda t, d: "5-9", lambda e: "5-9=6"))
    outcome = await _play(policy, {"target": 6, "difficulty": 1})
    assert {s.reward for s in outcome.samples if s.role == Role.SOLVER} == {1.0}
    policy = ScriptedPolicy(_script(lambda t, d: "5-9", lambda e: "5-9=-4"))
    outcome = await _play(policy, {"target": 6, "difficulty": 1})
    assert {s.reward for s in outcome.samples if s.role == Role.SOLVER} == {0.0}
    assert all("not a scratchpad" in v.reason for v in outcome.episode.verdicts[1:])


async def test_concurrent_episodes_on_one_graph_keep_their_records_apart() -> None:
    async def script(messages: list[ChatMessage]) -> str:
        await asyncio.sleep(random.random() / 100)  # interleave the episodes' calls
        return _script(_honest, scratchpad)(messages)

    policy = ScriptedPolicy(script)
    graph = GAME.build(Policies(default=policy), CFG)
    tasks = [Task(run="t", game="arith", params={"target": t, "difficulty": 2}) for t in range(10)]
    outcomes = await asyncio.gather(*(play_episode(GAME, graph, t, CFG) for t in tasks))
    for target, outcome in enumerate(outcomes):
        turns = outcome.episode.turns
        assert len(turns) == 6 and len(outcome.samples) == 6
        assert turns[0].messages[0].content == f"target {target} ops 2"
        assert all(t.messages[0].content == f"compute {target}+0+0" for t in turns[1:])
        assert {s.episode_id for s in outcome.samples} == {outcome.episode.id}
    assert len({o.episode.id for o in outcomes}) == 10


async def test_an_exception_in_a_node_ends_the_episode_with_the_error_and_no_samples() -> None:
    fail = True

    def script(messages: list[ChatMessage]) -> str:
        if fail and messages[-1].content.startswith("compute"):
            raise RuntimeError("backend fell over")
        return _script(_honest, scratchpad)(messages)

    graph = GAME.build(Policies(default=ScriptedPolicy(script)), CFG)
    task = Task(run="t", game="arith", params={"target": 2, "difficulty": 1})
    outcome = await play_episode(GAME, graph, task, CFG)
    assert outcome.samples == [] and not outcome.ok
    assert outcome.episode.errors == ["RuntimeError: backend fell over"]
    assert outcome.episode.rewards == [] and outcome.episode.verdicts == []
    assert outcome.episode.turns[0].role == Role.PROPOSER  # what happened before is kept
    fail = False  # the same compiled graph keeps playing afterwards
    again = await play_episode(GAME, graph, task, CFG)
    assert again.ok and len(again.samples) == 6


async def test_a_task_outside_the_game_range_is_an_episode_error() -> None:
    policy = ScriptedPolicy(_script(_honest, scratchpad))
    outcome = await _play(policy, {"target": 12, "difficulty": 1})
    assert outcome.samples == [] and "params.target" in outcome.episode.errors[0]
    outcome = await _play(policy, {"target": 1, "difficulty": 9})
    assert "params.difficulty in 1..5" in outcome.episode.errors[0]


async def test_a_role_bound_to_another_policy_is_recorded_but_not_trained() -> None:
    shared = ScriptedPolicy(_script(_honest, scratchpad))
    other = ScriptedPolicy(_script(lambda t, d: "0" + "+0" * (d - 1) + f"+{t}", scratchpad))
    graph = GAME.build(Policies(default=shared, overrides={Role.PROPOSER: other}), CFG)
    task = Task(run="t", game="arith", params={"target": 4, "difficulty": 2})
    outcome = await play_episode(GAME, graph, task, CFG)
    assert [s.role for s in outcome.samples] == [Role.SOLVER] * 5
    assert (
        outcome.episode.turns[0].completion == "4-4=0,0-0=0"
        and outcome.episode.turns[0].sample_id is None
    )
    assert len(other.calls) == 1 and len(shared.calls) == 5


def _outcome(difficulty: int, rate: float) -> EpisodeOutcome:
    task = Task(run="t", game="arith", params={"target": 0, "difficulty": difficulty})
    return EpisodeOutcome(
        samples=[], episode=Episode(run="t", game="arith", task=task, stats={"solve_rate": rate})
    )


def test_the_adaptive_curriculum_moves_toward_the_frontier() -> None:
    source = ArithTaskSource(CFG, seed=0)
    assert len(set(source.probabilities().values())) == 1  # nothing seen: all levels alike
    for _ in range(20):
        source.observe(_outcome(1, 1.0))
        source.observe(_outcome(2, 0.9))
        source.observe(_outcome(3, 0.5))
        source.observe(_outcome(4, 0.1))
        source.observe(_outcome(5, 0.0))
    probs = source.probabilities()
    assert max(probs, key=probs.__getitem__) == 3
    assert probs[1] == probs[5] == pytest.approx(min(probs.values())) and probs[1] > 0
    drawn = [source.next_params()["difficulty"] for _ in range(2000)]
    assert drawn.count(3) > 2 * drawn.count(1) and drawn.count(3) > 2 * drawn.count(5)


def test_the_uniform_curriculum_ignores_outcomes() -> None:
    source = ArithTaskSource(CFG.model_copy(update={"curriculum": "uniform"}), seed=0)
    for _ in range(20):
        source.observe(_outcome(3, 0.5))
        source.observe(_outcome(1, 1.0))
    assert source.probabilities() == {d: pytest.approx(0.2) for d in range(1, 6)}


def test_the_curriculum_ignores_invalid_episodes_and_draws_valid_tasks() -> None:
    source = ArithTaskSource(CFG, seed=3)
    task = Task(run="t", game="arith", params={"target": 0, "difficulty": 2})
    source.observe(EpisodeOutcome(samples=[], episode=Episode(run="t", game="arith", task=task)))
    assert source.solve_rates()[2] is None
    for _ in range(100):
        params = source.next_params()
        assert params["target"] in range(10) and params["difficulty"] in range(1, 6)


def test_the_heldout_set_is_fixed_and_has_the_level_s_operations() -> None:
    first = heldout_problems(4, 200, CFG.eval_seed)
    assert first == heldout_problems(4, 200, CFG.eval_seed) and len(first) == 200
    assert {evaluate(p).ops for p in first} == {4}
    assert first != heldout_problems(4, 200, CFG.eval_seed + 1)


async def test_evaluation_reports_greedy_and_sampled_accuracy_per_level() -> None:
    def script(messages: list[ChatMessage]) -> str:
        expression = messages[-1].content.removeprefix("compute ")
        return scratchpad(expression) if evaluate(expression).ops <= 2 else "0+0=0"

    cfg = CFG.model_copy(update={"eval_problems": 40})
    figures = await GAME.evaluate(ScriptedPolicy(script), cfg)
    assert figures["acc_greedy/d1"] == figures["acc_sampled/d2"] == 1.0
    assert figures["acc_greedy/d4"] < 0.3
    assert set(figures) == {f"acc_{m}/d{d}" for m in ("greedy", "sampled") for d in range(1, 6)} | {
        "acc_greedy",
        "acc_sampled",
    }


def test_demonstrations_are_correct_solver_and_proposer_examples() -> None:
    rng = random.Random(0)
    kinds = set()
    for _ in range(300):
        messages, completion = GAME.demonstrations(rng, CFG)
        prompt = messages[-1].content
        if prompt.startswith("compute "):
            expression = prompt.removeprefix("compute ")
            assert completion == scratchpad(expression) and evaluate(expression).ops <= 4
            kinds.add("solver")
        else:
            _, target, _, ops = prompt.split()
            proposal = parse_proposal(completion)
            assert proposal.valid and completion == backward_chain(proposal.expression)
            result = evaluate(proposal.expression)
            assert (result.last_digit, result.ops) == (int(target), int(ops))
            kinds.add("proposer")
    assert kinds == {"solver", "proposer"}


def test_the_config_refuses_an_empty_difficulty_range() -> None:
    with pytest.raises(ValueError, match="min_difficulty"):
        ArithConfig.model_validate({"min_difficulty": 4, "max_difficulty": 2})
    assert ArithConfig.model_validate({"warmup_mix": {"1": 1.0}}).warmup_mix == {1: 1.0}


async def test_the_warm_up_is_ready_only_when_every_level_reaches_its_threshold() -> None:
    cfg = ArithConfig(warmup_ready={1: 0.9, 2: 0.9, 3: 0.9, 4: 0.3}, warmup_probe=20)
    perfect = ScriptedPolicy(_script(_honest, lambda e: scratchpad(e)))
    assert await GAME.ready(perfect, cfg)
    wrong = ScriptedPolicy(_script(_honest, lambda e: "1+1=2"))
    assert not await GAME.ready(wrong, cfg)
    # Right on levels 1-3 but never on 4: the frontier threshold is not met.
    partial = ScriptedPolicy(
        _script(_honest, lambda e: scratchpad(e) if e.count("+") + e.count("-") < 4 else "")
    )
    assert not await GAME.ready(partial, cfg)
    assert await GAME.ready(partial, cfg.model_copy(update={"warmup_ready": {1: 0.9, 3: 0.9}}))
