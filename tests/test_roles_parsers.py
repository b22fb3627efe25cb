"""Role parsers are strict and total; the rule-based verifier and judge give reasons."""

from __future__ import annotations

import random
import string

import pytest

from sparring.messages import Role
from sparring.policy import SamplingParams, ScriptedPolicy
from sparring.roles import (
    Proposal,
    Solution,
    judge_number,
    judge_with_policy,
    parse_judgement,
    parse_proposal,
    parse_solution,
    propose_expression,
    solve_expression,
    verify_expression,
)

PARAMS = SamplingParams(max_new_tokens=32)


def _random_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabets = ["0123456789+-=, ", string.printable, "0123456789+-=,\u00e9\u2603\x00 \n"]
    return [
        "".join(rng.choice(alphabets[i % 3]) for _ in range(rng.randrange(0, 300)))
        for i in range(n)
    ]


def test_every_parser_is_total_over_random_strings() -> None:
    for text in _random_texts(3000, seed=1):
        proposal = parse_proposal(text)
        assert proposal.valid or proposal.reason
        solution = parse_solution(text)
        assert solution.valid == (solution.answer is not None)
        assert solution.valid or solution.reason
        judgement = parse_judgement(text)
        assert judgement.reason


def test_a_worked_chain_is_read_as_the_problem_it_spells() -> None:
    proposal = parse_proposal(" 7+2=9, 9-4=5\n")
    assert proposal == Proposal(valid=True, expression="5+4-2", text=" 7+2=9, 9-4=5\n")


def test_the_written_results_are_not_trusted_by_the_parser() -> None:
    # Wrong arithmetic in the chain still spells a problem; the verifier recomputes it.
    assert parse_proposal("7+2=1,1-4=3").expression == "3+4-2"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("5+4-2", "not like"),
        ("5*4=0", "not like"),
        ("five", "not like"),
        ("7+2=9,9-4", "not like"),
        ("17+2=9", "not like"),
        ("7+2=9,8-4=4", "starts from 8, but step 1 ended on 9"),
        (",".join(["1+1=2"] + ["2+0=2"] * 80), "longer than"),
        (",".join(["1+1=2"] + ["2+0=2"] * 40), "too long"),
    ],
)
def test_a_malformed_proposal_is_invalid_with_a_reason(text: str, why: str) -> None:
    proposal = parse_proposal(text)
    assert not proposal.valid
    assert why in proposal.reason
    assert proposal.expression == ""


def test_a_scratchpad_answer_is_its_last_number() -> None:
    solution = parse_solution("5+4=9,9-2=7\n")
    assert (solution.valid, solution.answer, solution.steps) == (True, 7, 2)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "7",
        "5+4=9 9-2=7",
        "5+4=9,",
        "5+4=19",
        "the answer is 7",
        "5*4=0",
        "5+4=9,,",
        "5+4=\u0669",
    ],
)
def test_a_malformed_scratchpad_is_invalid_with_a_reason(text: str) -> None:
    solution = parse_solution(text)
    assert not solution.valid and solution.answer is None and solution.reason


async def test_the_verifier_accepts_the_right_value_and_operation_count() -> None:
    verdict = await verify_expression(parse_proposal("7+2=9,9-4=5"), target=7, ops=2)
    assert verdict.valid and verdict.value == 7 and verdict.ops == 2


@pytest.mark.parametrize(
    ("text", "target", "ops", "why"),
    [
        ("7+2=9,9-4=5", 8, 2, "wrong value"),
        ("8+2=9,9-4=5", 8, 2, "wrong value"),  # the chain claims 8; 5+4-2 is 7
        ("7+2=9,9-4=5", 7, 3, "wrong number of operations"),
        ("7+2=9,9-", 7, 2, "unparsable"),
        ("5*4=0", 0, 1, "unparsable"),
        ("", 0, 1, "unparsable"),
        (",".join(["1+1=2"] + ["2+0=2"] * 40), 2, 41, "unparsable: too long"),
    ],
)
async def test_the_verifier_rejects_with_a_reason(
    text: str, target: int, ops: int, why: str
) -> None:
    verdict = await verify_expression(parse_proposal(text), target=target, ops=ops)
    assert not verdict.valid
    assert why in verdict.reason


async def test_the_verifier_rechecks_a_hand_built_proposal() -> None:
    forged = Proposal(valid=True, expression="__import__('os')")
    verdict = await verify_expression(forged, target=0, ops=0)
    assert not verdict.valid and "unparsable" in verdict.reason


async def test_the_number_judge_compares_the_final_answer() -> None:
    assert (await judge_number(parse_solution("5+4=9,9-2=7"), 7)).correct
    wrong = await judge_number(parse_solution("5+4=9,9-2=6"), 7)
    assert not wrong.correct and "answered 6, expected 7" in wrong.reason
    none = await judge_number(Solution(valid=False, reason="empty answer"), 7)
    assert not none.correct and "no answer" in none.reason


@pytest.mark.parametrize(
    ("reply", "correct"), [("yes", True), ("Yes.", True), ("no", False), ("maybe", False)]
)
async def test_the_policy_judge_reads_yes_or_no_and_fails_closed(reply: str, correct: bool) -> None:
    policy = ScriptedPolicy(lambda messages: reply)
    judgement = await judge_with_policy(policy, "compute 1+1", "2", "2", PARAMS)
    assert judgement.correct is correct
    (call,) = judgement.calls
    assert call.role == Role.JUDGE and "reference: 2" in call.messages[0].content


async def test_a_role_returns_its_parse_and_the_record_of_its_call() -> None:
    policy = ScriptedPolicy(lambda messages: "5+4=9,9-2=7", version=3)
    solution = await solve_expression(policy, "5+4-2", PARAMS)
    (call,) = solution.calls
    assert solution.answer == 7
    assert call.role == Role.SOLVER
    assert call.messages[0].content == "compute 5+4-2"
    assert call.generation.policy_version == 3
    assert call.parsed == {"valid": True, "answer": 7, "steps": 2, "reason": ""}


async def test_the_proposer_prompt_is_short() -> None:
    policy = ScriptedPolicy(lambda messages: "7+2=9,9-4=5")
    proposal = await propose_expression(policy, target=7, ops=2, params=PARAMS)
    assert policy.calls[0][0].content == "target 7 ops 2"
    assert proposal.valid and proposal.calls[0].role == Role.PROPOSER
