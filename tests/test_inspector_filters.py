"""The episode filters shared by the web inspector and `sparring tail`, on real Episode models."""

from __future__ import annotations

import pytest

from sparring.errors import ConfigError
from sparring.inspector.examples import example_episode
from sparring.inspector.filters import EpisodeFilter
from sparring.inspector.store import EpisodeStore
from sparring.inspector.summary import summarize
from sparring.messages import Role


def test_an_empty_filter_lets_every_episode_through() -> None:
    assert EpisodeFilter().matches(example_episode(valid=False))
    assert EpisodeFilter.from_query({"game": "", "search": "  "}) == EpisodeFilter()


def test_game_role_and_version_filters_select_by_what_the_episode_holds() -> None:
    ep = example_episode(game="search", version=3)
    assert EpisodeFilter(game="search").matches(ep)
    assert not EpisodeFilter(game="arith").matches(ep)
    assert EpisodeFilter(role=Role.SOLVER).matches(ep)
    assert not EpisodeFilter(role=Role.PLANNER).matches(ep)
    assert EpisodeFilter(version=3).matches(ep)
    assert not EpisodeFilter(version=2).matches(ep)


def test_verdict_filters_read_the_checked_verdicts() -> None:
    some = example_episode(solved=[False, True])
    none = example_episode(solved=[False, False])
    invalid = example_episode(valid=False)
    assert EpisodeFilter(verdict="solved").matches(some)
    assert not EpisodeFilter(verdict="solved").matches(none)
    assert EpisodeFilter(verdict="unsolved").matches(none)
    assert not EpisodeFilter(verdict="unsolved").matches(some)
    # An invalid proposal has no solver attempts: it is neither solved nor unsolved.
    assert not EpisodeFilter(verdict="unsolved").matches(invalid)
    assert EpisodeFilter(verdict="invalid").matches(invalid)
    assert EpisodeFilter(verdict="valid").matches(some)
    assert not EpisodeFilter(verdict="valid").matches(invalid)


def test_the_reward_range_narrows_to_the_chosen_role() -> None:
    ep = example_episode(solved=[True, True, True, True])  # solvers 1.0, proposer 1 - 1 = 0.0
    assert EpisodeFilter(min_reward=0.9).matches(ep)
    assert not EpisodeFilter(role=Role.PROPOSER, min_reward=0.1).matches(ep)
    assert EpisodeFilter(role=Role.PROPOSER, max_reward=0.0).matches(ep)
    assert not EpisodeFilter(min_reward=1.5).matches(ep)
    assert not EpisodeFilter(max_reward=-2).matches(ep)


def test_search_finds_text_in_completions_tool_results_and_reasons_case_insensitively() -> None:
    ep = example_episode(answer="Quetzalcoatl")
    assert EpisodeFilter(search="quetzalCOATL").matches(ep)
    assert EpisodeFilter(search="analytical engine").matches(ep)  # a search tool's document
    assert EpisodeFilter(search="recovered the seed").matches(ep)  # a verdict's reason
    assert not EpisodeFilter(search="zanzibar").matches(ep)


def test_a_bad_query_value_is_a_config_error_that_names_the_field() -> None:
    with pytest.raises(ConfigError, match="version"):
        EpisodeFilter.from_query({"version": "latest"})
    with pytest.raises(ConfigError, match="role"):
        EpisodeFilter.from_query({"role": "the king"})  # not a role name


def test_a_filter_survives_the_round_trip_through_a_url_query() -> None:
    wanted = EpisodeFilter(game="search", role=Role.SOLVER, min_reward=0.5, verdict="solved")
    assert EpisodeFilter.from_query(wanted.query()) == wanted


def test_the_store_keeps_arrival_order_ignores_repeats_and_forgets_the_oldest() -> None:
    store = EpisodeStore(capacity=2)
    a, b, c = (example_episode(seed=s) for s in "abc")
    assert store.add(a) is not None
    assert store.add(a) is None
    store.add(b)
    store.add(c)
    assert [e.episode.id for e in store.snapshot()] == [b.id, c.id]
    assert store.get(a.id) is None
    assert [e.seq for e in store.snapshot()] == [2, 3]


def test_a_summary_counts_verdicts_and_averages_rewards_per_role() -> None:
    row = summarize(example_episode(solved=[True, False, True, False]))
    assert {"name": "solved", "ok": 2, "total": 4} in row["verdicts"]
    assert row["rewards"] == {"proposer": 0.5, "solver": 0.5}
    assert row["headline"].startswith("In which year did Ada Lovelace")
    assert row["roles"] == ["proposer", "solver", "verifier"]


def test_a_verdict_filter_takes_any_verdict_name_a_game_emits_and_its_negation() -> None:
    some = example_episode(solved=[False, True])
    none = example_episode(solved=[False, False])
    for not_ok in ("!solved", "solved=false"):
        assert EpisodeFilter(verdict=not_ok).matches(none)
        assert not EpisodeFilter(verdict=not_ok).matches(some)
    assert EpisodeFilter(verdict="solved=true").matches(some)
    assert not EpisodeFilter(verdict="found").matches(some)  # no verdict of that name at all
    assert not EpisodeFilter(verdict="!found").matches(some)
    with pytest.raises(ValueError):
        EpisodeFilter(verdict="not a name")
