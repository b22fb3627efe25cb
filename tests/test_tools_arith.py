"""The safe arithmetic evaluator: exact on digits with + and -, refuses everything else."""

from __future__ import annotations

import random
import string

import pytest

from sparring.tools import MAX_CHARS, ExpressionError, evaluate, scratchpad


@pytest.mark.parametrize(
    ("text", "value", "ops"),
    [("7", 7, 0), ("5+4-2", 7, 2), ("5-9", -4, 1), ("9+9+9+9", 36, 3), (" 1 + 2 ", 3, 1)],
)
def test_a_valid_expression_has_its_exact_value_and_operation_count(
    text: str, value: int, ops: int
) -> None:
    result = evaluate(text)
    assert (result.value, result.ops) == (value, ops)
    assert result.last_digit == value % 10


def test_a_negative_value_takes_its_last_digit_mod_10() -> None:
    assert evaluate("5-9").last_digit == 6


def test_the_scratchpad_writes_one_step_per_operation_each_mod_10() -> None:
    assert scratchpad("5+4-2") == "5+4=9,9-2=7"
    assert scratchpad("5-9+3") == "5-9=6,6+3=9"
    assert scratchpad("8+7+6") == "8+7=5,5+6=1"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("2*3", "disallowed"),
        ("(1+2)", "disallowed"),
        ("__import__('os').system('true')", "disallowed"),
        ("1e3", "disallowed"),
        ("1.5+1", "disallowed"),
        ("True+1", "disallowed"),
        ("x", "disallowed"),
        ("12+3", "single digit"),
        ("-3+1", "sign"),
        ("3--2", "sign"),
        ("1+", "not an expression"),
        ("1 2", "not an expression"),
        ("01+1", "not an expression"),
        ("1+" * 40 + "1", "too long"),
    ],
)
def test_the_evaluator_refuses_anything_but_single_digits_with_plus_and_minus(
    text: str, why: str
) -> None:
    with pytest.raises(ExpressionError) as info:
        evaluate(text)
    assert why in info.value.reason
    assert info.value.text == text


def test_the_length_bound_is_configurable() -> None:
    assert evaluate("1+1+1", max_chars=5).value == 3
    with pytest.raises(ExpressionError, match="too long"):
        evaluate("1+1+1", max_chars=4)


def test_random_strings_either_evaluate_or_raise_an_expression_error() -> None:
    rng = random.Random(0)
    alphabets = ["0123456789+- ", "0123456789+-()*/ .e_", string.printable]
    evaluated = 0
    for i in range(3000):
        chars = alphabets[i % 3]
        text = "".join(rng.choice(chars) for _ in range(rng.randrange(0, MAX_CHARS + 8)))
        try:
            result = evaluate(text)
        except ExpressionError:
            continue
        evaluated += 1
        assert result.ops == text.count("+") + text.count("-")
    assert evaluated > 0
