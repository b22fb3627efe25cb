"""Answer matching behaves as the SQuAD v1.1 evaluation defines it, on the strings that trip it."""

from __future__ import annotations

import pytest

from sparring.tools.answer import exact_match, f1, normalize_answer


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("The Orun Guild", "orun guild"),
        ("  Varo   Keltin\t\n", "varo keltin"),
        ("theater", "theater"),
        ("The theater", "theater"),
        ("anthem", "anthem"),
        ("a", ""),
        ("An apple a day", "apple day"),
        ("THE AN A", ""),
        ("U.S.A.", "usa"),
        ("Keltin's", "keltins"),
        ("well-known", "wellknown"),
        ("the-theater", "thetheater"),
        ("(the) end", "end"),
        ("1,843", "1843"),
        ("“Amsel”", "“amsel”"),
        ("Amsel — Teral", "amsel — teral"),
        ("ÉCOLE", "école"),
        ("Orun\u00a0Guild", "orun guild"),
        ("the\u2003end", "end"),
        ("", ""),
        ("?!...", ""),
    ],
)
def test_normalisation_follows_the_v1_1_steps_in_order(text: str, normal: str) -> None:
    assert normalize_answer(text) == normal


def test_punctuation_is_deleted_before_articles_so_a_joined_article_survives() -> None:
    # "a.b" loses the dot first and becomes the word "ab", which is no article.
    assert normalize_answer("a.b") == "ab"
    # A dot between two words deletes nothing else: "end.The" is one word "endthe".
    assert normalize_answer("end.The start") == "endthe start"


@pytest.mark.parametrize(
    ("prediction", "golds", "em"),
    [
        ("the Orun Guild", "Orun Guild", 1.0),
        ("Orun Guild.", ["orun guild"], 1.0),
        ("Orun  guild", ("Kelo Fair", "Orun Guild"), 1.0),
        ("theater", "the ater", 0.0),
        ("Orun", "Orun Guild", 0.0),
        ("“Amsel”", "Amsel", 0.0),
        ("", "Amsel", 0.0),
        ("", "", 1.0),
        ("the", "a", 1.0),
        ("1843", ["1842", "1843"], 1.0),
    ],
)
def test_exact_match_compares_normal_forms_and_takes_the_best_gold(
    prediction: str, golds: str | list[str] | tuple[str, ...], em: float
) -> None:
    assert exact_match(prediction, golds) == em
    assert isinstance(exact_match(prediction, golds), float)


def test_f1_is_the_harmonic_mean_of_token_precision_and_recall() -> None:
    # 2 shared tokens; precision 2/4, recall 2/2 -> F1 = 2 * 0.5 * 1 / 1.5.
    assert f1("Orun Guild of Amsel", "the Orun Guild") == pytest.approx(2 / 3)
    # precision 1/1, recall 1/3.
    assert f1("Keltin", "Varo Keltin Amsel") == pytest.approx(0.5)
    assert f1("Varo Keltin", "Varo Keltin") == 1.0


def test_f1_counts_repeated_tokens_only_as_often_as_both_sides_have_them() -> None:
    # Counter intersection: "orun" appears once in the gold, so 3 repeats share only 1.
    # precision 1/3, recall 1/2 -> 2 * (1/3) * (1/2) / (5/6) = 0.4.
    assert f1("Orun Orun Orun", "Orun Guild") == pytest.approx(0.4)
    # Both sides repeat: min(2, 3) = 2 shared of 3 predicted and 2 gold.
    assert f1("ka ka ka", "ka ka") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))


def test_f1_is_zero_without_overlap_even_when_both_sides_normalise_to_nothing() -> None:
    assert f1("Amsel", "Teral") == 0.0
    assert f1("", "Amsel") == 0.0
    assert f1("the", "an") == 0.0  # v1.1 gives 0 here although exact match gives 1
    assert exact_match("the", "an") == 1.0


def test_f1_ignores_articles_and_punctuation_as_tokens() -> None:
    assert f1("the Orun Guild, of course", "Orun Guild") == pytest.approx(2 * 0.5 / 1.5)
    assert f1("A Kelo Fair!", "kelo fair") == 1.0


def test_f1_takes_the_maximum_over_several_golds() -> None:
    golds = ["Teral", "Orun Guild of Amsel", "Orun Guild"]
    assert f1("Orun Guild", golds) == 1.0
    assert f1("Guild of Amsel", golds) == pytest.approx(2 * 1 * 0.75 / 1.75)


def test_a_string_gold_is_one_answer_not_a_sequence_of_characters() -> None:
    assert exact_match("a", "abc") == 0.0
    assert f1("b", "abc") == 0.0


def test_an_empty_list_of_golds_is_refused_rather_than_scored() -> None:
    with pytest.raises(ValueError, match="no gold answers"):
        exact_match("Amsel", [])
    with pytest.raises(ValueError, match="no gold answers"):
        f1("Amsel", ())
