"""The code game with a scripted policy and the real sandbox: every validity and reward path,
the buffer across a restart, the held-out set, the demonstrations; whole episodes with the tiny
model in tests/test_graphs_code_tiny.py."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sparring.graphs import EpisodeOutcome, Policies, Task, load_game, play_episode
from sparring.graphs.code import (
    Check,
    CodeConfig,
    CodeTaskSource,
    check_proposal,
    heldout_programs,
    random_program,
    sandbox_for,
)
from sparring.graphs.code.prompts import parse_answer
from sparring.graphs.code.validity import _judge_runs, _static
from sparring.messages import ChatMessage
from sparring.policy.scripted import ScriptedPolicy

GAME = load_game("code")
CFG = CodeConfig(n_solvers=4, eval_programs=5)
PROGRAM = "def f(x):\n    x = (x + 3) % 10\n    x = (x - 1) % 10\n    return x"  # f(4) = 6


def _proposal(program: str = PROGRAM, given: str = "4") -> str:
    return f"{program}\ninput: {given}"


def _script(proposal: str, answers: list[str]) -> Callable[[list[ChatMessage]], str]:
    """The proposer writes `proposal`; solver i answers answers[i % len]."""
    count = iter(range(10_000))

    def script(messages: list[ChatMessage]) -> str:
        if messages[-1].content.startswith(("reference", "propose")):
            return proposal
        return answers[next(count) % len(answers)]

    return script


async def _play(
    script: Callable[[list[ChatMessage]], str], task_type: str = "deduction", cfg: CodeConfig = CFG,
    **params: Any,
) -> EpisodeOutcome:  # fmt: skip
    graph = GAME.build(Policies(default=ScriptedPolicy(script)), cfg)
    params = {"type": task_type, "difficulty": 2, "references": []} | params
    outcome = await play_episode(GAME, graph, Task(run="r", game="code", params=params), cfg)
    assert outcome.ok, outcome.episode.errors
    return outcome


def _rewards(outcome: EpisodeOutcome) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for s in outcome.samples:
        out.setdefault(s.role, []).append(s.reward or 0.0)
    return out


async def test_a_deduction_episode_pays_solvers_by_output_and_the_proposer_by_learnability() -> (
    None
):
    outcome = await _play(_script(_proposal(), ["4+3=7,7-1=6", "6", "5", "junk ="]))
    rewards = _rewards(outcome)
    assert rewards["solver_deduction"] == [1.0, 1.0, 0.0, 0.0]
    assert rewards["proposer_deduction"] == [0.5]  # 1 - p at p = 0.5 (Absolute Zero)
    solvers = [s for s in outcome.samples if s.role == "solver_deduction"]
    assert len({s.group_id for s in solvers}) == 1 and solvers[0].group_size == 4
    assert outcome.episode.stats["solve_rate/deduction/d2"] == 0.5


async def test_a_task_every_solver_or_no_solver_solves_pays_the_proposer_nothing() -> None:
    for answer in ("6", "1"):
        outcome = await _play(_script(_proposal(), [answer]))
        assert _rewards(outcome)["proposer_deduction"] == [0.0]


async def test_an_abduction_answer_is_checked_by_running_it_so_any_right_input_counts() -> None:
    program = "def f(x):\n    x = x % 2\n    x = x + 1\n    return x"  # f(4) = 1 = f(0)
    outcome = await _play(_script(_proposal(program), ["x=0", "6", "3", "'a'"]), "abduction")
    rewards = _rewards(outcome)
    assert rewards["solver_abduction"] == [1.0, 1.0, 0.0, 0.0]
    reasons = [v.reason for v in outcome.episode.verdicts if v.name == "solved"]
    assert reasons[2] == "f(3) = 2" and reasons[3].startswith("f('a'): error")


def test_answers_are_compared_as_python_literals() -> None:
    assert parse_answer("[1,2]").value == parse_answer(" [1, 2] ").value == "[1, 2]"
    assert parse_answer("7+2=9,9-3=6").value == "6"
    assert parse_answer("six").value is None and parse_answer("").value is None
    assert parse_answer("__import__('os')").value is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (PROGRAM, "no 'input:' line"),
        ("input: 3", "no program before"),
        (_proposal("def f(x):\n  return (x"), "does not parse"),
        (_proposal("def g(x):\n    return x"), "no top-level 'def f(x)'"),
        (_proposal("def f(x, y):\n    return x"), "no top-level 'def f(x)'"),
        (_proposal("def f(x):\n    return x"), "0 statements, 2 asked for"),
        (_proposal("import os\ndef f(x):\n    x = 1\n    x = 2\n    return x"), "imports 'os'"),
        (_proposal("def f(x):\n    x = open\n    x = 1\n    return x"), "the name 'open'"),
        (_proposal("def f(x):\n    x = ().__class__\n    x = 1\n    return x"), "'__class__'"),
        (_proposal(PROGRAM, "x + 1"), "not a short Python literal"),
        (_proposal(PROGRAM, "9" * 100), "not a short Python literal"),
        (_proposal(PROGRAM + "\n" + "#" * 400), "program over 400"),
    ],
)
def test_a_proposal_failing_a_static_check_is_invalid_before_anything_runs(
    text: str, reason: str
) -> None:
    check = _static(text, 2, CFG)
    assert check.status == "invalid" and reason in check.reason, check.reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("    x = x + 1\n    x = x[0]\n    return x", "error: TypeError"),
        ("    x = 1\n    while True: x += 1\n    return x", "timeout"),
        ("    x = 1\n    x = [0] * 10**9\n    return x", "limit: memory"),
        ("    x = 1\n    x = object()\n    return x", "output is not a short Python literal"),
        (
            "    x = 1\n    x = list(range(100))\n    return x",
            "output is not a short Python literal",
        ),
    ],
)
async def test_a_proposal_that_fails_in_the_sandbox_is_invalid(body: str, reason: str) -> None:
    check = await check_proposal(_proposal(f"def f(x):\n{body}"), 2, CFG)
    assert check.status == "invalid" and reason in check.reason, check.reason


async def test_two_runs_that_differ_make_a_proposal_nondeterministic() -> None:
    static = _static(_proposal(), 2, CFG)
    sandbox = sandbox_for()
    one = await sandbox.run("print(1)\n" + PROGRAM, "f(4)", CFG.limits)
    two = await sandbox.run("print(2)\n" + PROGRAM, "f(4)", CFG.limits)
    assert _judge_runs(static, [one, one], CFG).valid
    assert _judge_runs(static, [one, two], CFG).reason == "not deterministic"


async def test_a_run_the_sandbox_lost_is_not_scored() -> None:
    static = _static(_proposal(), 2, CFG)
    ok = await sandbox_for().run(PROGRAM, "f(4)", CFG.limits)
    lost = ok.model_copy(update={"status": "lost", "value": None})
    check = _judge_runs(static, [ok, lost], CFG)
    assert check.status == "lost"
    state = {"check": check, "type": "deduction", "difficulty": 2, "proposer_call": "c1"}
    scoring = GAME.score(state, [], CFG)
    assert scoring.payouts == [] and "solve_rate" not in scoring.stats


async def test_an_invalid_proposal_costs_the_format_penalty_and_no_solver_plays() -> None:
    outcome = await _play(_script("def f(x): return x", ["6"]))
    assert _rewards(outcome) == {"proposer_deduction": [CFG.format_penalty]}
    assert outcome.episode.stats["valid/deduction"] == 0.0


async def test_a_valid_proposal_runs_twice_in_the_real_sandbox() -> None:
    check = await check_proposal(_proposal(given="4"), 2, CFG)
    assert check == Check(status="valid", reason="valid", program=PROGRAM, input="4", output="6",
                          steps=2)  # fmt: skip
    lists = "def f(x):\n    x = sorted(x)\n    x = x[::-1]\n    return x"
    listed = await check_proposal(_proposal(lists, "[3,1, 2]"), 2, CFG)
    assert listed.valid and listed.input == "[3, 1, 2]" and listed.output == "[3, 2, 1]"


async def test_the_buffer_keeps_valid_proposals_across_a_restart(tmp_path: Path) -> None:
    source = CodeTaskSource(CFG, seed=0, state_dir=tmp_path)
    seeded = source.buffer.tasks("deduction")
    assert len(seeded) == CFG.seed_tasks
    for proposal in (_proposal(), "def f(x): return x"):  # one valid, one invalid
        source.observe(await _play(_script(proposal, ["6"])))
    assert source.buffer.tasks("deduction")[-1].program == PROGRAM
    assert len(source.buffer.tasks("deduction")) == CFG.seed_tasks + 1
    (tmp_path / "buffer-deduction.jsonl").open("a").write('{"program": "cut mid-li')
    restarted = CodeTaskSource(CFG, seed=5, state_dir=tmp_path)
    assert [t.program for t in restarted.buffer.tasks("deduction")] == [PROGRAM]
    assert len(restarted.buffer.tasks("abduction")) == CFG.seed_tasks  # nothing kept: seeded
    params = restarted.next_params()
    assert all("input:" in r for r in params["references"])  # type: ignore[union-attr]


async def test_a_stateful_game_gets_its_state_folder_through_the_game_api(tmp_path: Path) -> None:
    source = GAME.task_source(CFG, seed=1, state_dir=tmp_path)
    source.observe(await _play(_script(_proposal(), ["6"])))
    assert (tmp_path / "buffer-deduction.jsonl").read_text().count("\n") == 1


async def test_the_proposer_is_shown_references_from_the_buffer() -> None:
    source = CodeTaskSource(CFG, seed=0)
    params = source.next_params()
    seen: list[str] = []

    def script(messages: list[ChatMessage]) -> str:
        seen.append(messages[-1].content)
        return _proposal()

    await _play(script, str(params["type"]), **params)
    assert seen[0].count("reference:") == CFG.references and seen[0].endswith("steps")


async def test_an_oracle_task_plays_the_generated_program_without_a_proposer() -> None:
    cfg = CFG.model_copy(update={"tasks": "oracle"})
    source = CodeTaskSource(cfg, seed=2)
    params = source.next_params()
    outcome = await _play(_script("unused", [str(params["output"])]), str(params["type"]), cfg,
                          **params)  # fmt: skip
    assert set(_rewards(outcome)) == {f"solver_{params['type']}"}


async def test_a_task_outside_the_game_range_is_an_episode_error() -> None:
    graph = GAME.build(Policies(default=ScriptedPolicy(lambda m: "")), CFG)
    task = Task(run="r", game="code", params={"type": "induction", "difficulty": 1})
    outcome = await play_episode(GAME, graph, task, CFG)
    assert not outcome.ok and "params.type" in outcome.episode.errors[0]


def test_the_heldout_set_is_fixed_and_has_the_level_s_statements() -> None:
    a, b = heldout_programs(3, 20, 7), heldout_programs(3, 20, 7)
    assert a == b and a != heldout_programs(3, 20, 8)
    assert all(p.source.count("% 10") == 3 for p in a)


async def test_generated_programs_run_in_the_sandbox_as_the_generator_says() -> None:
    for p in heldout_programs(3, 6, 1):
        outcome = await sandbox_for().run(p.source, f"f({p.input})", CFG.limits)
        assert outcome.value == str(p.output)


async def test_demonstrations_are_right_answers_and_valid_proposals() -> None:
    rng, seen = random.Random(0), set()
    for _ in range(60):
        messages, completion = GAME.demonstrations(rng, CFG)
        prompt = messages[-1].content
        if prompt.endswith("steps"):
            seen.add("proposer")
            d = int(re.findall(r"(\d) steps", prompt)[0])
            assert (await check_proposal(str(completion), d, CFG)).valid
            continue
        program, asked = prompt.rsplit("\n", 1)
        answer = parse_answer(str(completion)).value
        call = asked.replace("?", str(answer)).split(" = ")
        outcome = await sandbox_for().run(program, call[0], CFG.limits)
        assert outcome.value == call[1], (prompt, completion)
        seen.add("deduction" if asked.endswith("?") else "abduction")
    assert seen == {"proposer", "deduction", "abduction"}


def _perfect(messages: list[ChatMessage]) -> str:
    """A solver that reads the generated program's statements and computes the answer."""
    program, asked = messages[-1].content.rsplit("\n", 1)
    steps = [(s, int(k)) for s, k in re.findall(r"\(x ([+-]) (\d)\)", program)]
    if asked.endswith("?"):
        x = int(asked[2])
        for s, k in steps:
            x = (x + k if s == "+" else x - k) % 10
        return str(x)
    y = int(asked.split("= ")[1])
    for s, k in reversed(steps):
        y = (y - k if s == "+" else y + k) % 10
    return str(y)


async def test_evaluation_reports_greedy_and_sampled_accuracy_per_type_and_level() -> None:
    figures = await GAME.evaluate(ScriptedPolicy(_perfect), CFG)
    assert figures["acc_greedy/deduction/d3"] == 1.0 and figures["acc_sampled/abduction/d1"] == 1.0
    assert figures["acc_greedy/abduction"] == 1.0
    wrong = await GAME.evaluate(ScriptedPolicy(lambda m: "'no'"), CFG)
    assert max(wrong.values()) == 0.0
    assert await GAME.ready(ScriptedPolicy(_perfect), CFG)
    assert not await GAME.ready(ScriptedPolicy(lambda m: "0"), CFG)


def test_every_task_type_has_its_own_proposer_and_solver_role() -> None:
    assert set(GAME.roles) == {
        "proposer_deduction", "proposer_abduction", "solver_deduction", "solver_abduction"
    }  # fmt: skip
    assert GAME.roles["proposer_abduction"].grouping == "call"


def test_the_config_refuses_an_empty_difficulty_range() -> None:
    with pytest.raises(ValueError, match="min_difficulty"):
        CodeConfig(min_difficulty=3, max_difficulty=2)


def test_a_random_program_has_the_asked_statements() -> None:
    p = random_program(random.Random(3), 4)
    assert len(p.steps) == 4 and p.forward_trace().count("=") == 4
