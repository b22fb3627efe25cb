"""Advantage estimators on hand-made groups, with values worked out by hand."""

from __future__ import annotations

import pytest
from test_trainer_support import group

from sparring.messages import Role
from sparring.trainer.advantages import RaeBaselines, estimate, grpo, rloo
from sparring.trainer.config import TrainerConfig


def test_grpo_normalises_by_the_group_mean_and_population_std() -> None:
    # mean 0.5, population std 0.5
    assert grpo([1.0, 0.0, 1.0, 0.0]) == pytest.approx([1, -1, 1, -1], abs=1e-5)
    # mean 1, std sqrt(2/3)
    assert grpo([0.0, 1.0, 2.0]) == pytest.approx([-1.2247, 0, 1.2247], abs=1e-4)


def test_rloo_subtracts_the_mean_of_the_other_samples() -> None:
    # 1 - (0+0+1)/3 = 2/3 ; 0 - (1+0+1)/3 = -2/3
    assert rloo([1.0, 0.0, 0.0, 1.0]) == pytest.approx([2 / 3, -2 / 3, -2 / 3, 2 / 3])
    assert rloo([3.0, 1.0]) == pytest.approx([2.0, -2.0])


def test_group_relative_estimators_see_no_signal_in_an_all_equal_group() -> None:
    assert grpo([1.0, 1.0, 1.0]) is None
    assert rloo([0.0, 0.0]) is None
    assert grpo([0.7]) is None  # a group of one compares with nothing


def test_the_batch_baseline_is_the_mean_reward_of_the_role_in_the_batch() -> None:
    config = TrainerConfig(estimators={Role.SOLVER: "reinforce", Role.PROPOSER: "rae"})
    groups = [group("a", [1.0, 0.0]), group("b", [1.0]), group("c", [2.0], role=Role.PROPOSER)]
    out = estimate(groups, config, RaeBaselines(0.9))
    # solver baseline (1+0+1)/3 = 2/3; the proposer's rae baseline starts at 0
    assert out[0] == pytest.approx([1 / 3, -2 / 3])
    assert out[1] == pytest.approx([1 / 3])
    assert out[2] == pytest.approx([2.0])


def test_rae_keeps_an_ema_baseline_per_game_and_role_updated_after_each_sample() -> None:
    rae = RaeBaselines(decay=0.5)
    # b: 0 -> A=1, b=0.5 -> A=0.5, b=0.75 ; A for 0.0 = -0.75, b=0.375
    assert rae.advantages("arith/proposer", [1.0, 1.0, 0.0]) == pytest.approx([1, 0.5, -0.75])
    assert rae.values["arith/proposer"] == pytest.approx(0.375)
    assert rae.advantages("arith/solver", [1.0]) == pytest.approx([1.0])  # its own baseline


def test_arith_declares_grpo_for_the_solver_and_rae_for_the_proposer() -> None:
    from sparring.credit import resolve_estimators
    from sparring.graphs.arith import game

    table = resolve_estimators("arith", game.roles, {}, "grpo")
    config = TrainerConfig(estimators=table)
    rae = RaeBaselines(config.rae_decay, {"arith/proposer": 0.5})
    out = estimate(
        [group("s", [1.0, 0.0]), group("p", [1.0], role=Role.PROPOSER), group("e", [1.0, 1.0])],
        config,
        rae,
    )
    assert out[0] == pytest.approx([1, -1], abs=1e-5)
    assert out[1] == pytest.approx([0.5])  # a proposer group of one is trained against b
    assert out[2] is None  # an all-equal solver group is skipped


def test_an_estimator_keyed_by_game_and_role_beats_one_keyed_by_role() -> None:
    config = TrainerConfig(estimators={"solver": "rloo", "arith/solver": "reinforce"})
    assert config.estimator("arith", "solver") == "reinforce"
    assert config.estimator("other", "solver") == "rloo"
    assert config.estimator("other", "player_1") == "grpo"  # default_estimator


def test_two_seats_of_one_game_keep_separate_rae_baselines() -> None:
    config = TrainerConfig(default_estimator="rae")
    rae = RaeBaselines(0.5)
    out = estimate(
        [group("a", [1.0], role="player_0"), group("b", [-1.0], role="player_1")], config, rae
    )
    assert out == [pytest.approx([1.0]), pytest.approx([-1.0])]
    assert rae.values == {"arith/player_0": 0.5, "arith/player_1": -0.5}
