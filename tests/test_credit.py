"""Credit a game declares: estimators merged with the run's overrides; dead roles refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparring.cli import main
from sparring.credit import RoleSpec, resolve_estimators
from sparring.errors import ConfigError, GameError
from sparring.graphs import Game
from sparring.messages import Role

GAME_FILE = Path(__file__).resolve().parents[1] / "examples" / "guess_number" / "game.py"

SEATS = {
    "player_0": RoleSpec(estimator="rae", grouping="call"),
    "player_1": RoleSpec(estimator="rae", grouping="call"),
}


def test_declared_estimators_fill_in_under_game_and_role() -> None:
    table = resolve_estimators("duel", SEATS, {}, "grpo")
    assert table == {"duel/player_0": "rae", "duel/player_1": "rae"}


def test_the_runs_override_beats_the_games_declaration() -> None:
    roles = {"solver": RoleSpec(estimator="grpo"), "proposer": RoleSpec(estimator="rae")}
    table = resolve_estimators("g", roles, {"solver": "rloo", "g/proposer": "reinforce"}, "grpo")
    assert table == {"solver": "rloo", "g/proposer": "reinforce"}


def test_singleton_groups_under_a_group_relative_estimator_are_refused_with_role_and_fix() -> None:
    with pytest.raises(ConfigError, match=r"trainer\.estimators\.player_1.*'player_1'.*'rae'"):
        resolve_estimators("duel", SEATS, {"player_1": "grpo"}, "grpo")
    with pytest.raises(ConfigError, match="player_0"):  # nothing declared: the default applies
        resolve_estimators("duel", {"player_0": RoleSpec(grouping="call")}, {}, "grpo")


def test_a_misspelt_role_in_the_overrides_is_an_error_not_a_no_op() -> None:
    with pytest.raises(ValueError, match="not an identifier"):
        resolve_estimators("duel", SEATS, {"Player 0": "rae"}, "grpo")


def test_a_game_names_its_own_roles_and_a_bad_name_is_refused_at_definition() -> None:
    def nothing(*args: object) -> None:
        return None

    kw = {"description": "", "config_model": RoleSpec, "build": nothing, "score": nothing}
    game = Game(name="duel", task_source=nothing, roles=SEATS, **kw)  # type: ignore[arg-type]
    assert list(game.roles) == ["player_0", "player_1"]
    assert Game(name="g", task_source=nothing, roles={Role.SOLVER: RoleSpec()}, **kw).roles  # type: ignore[arg-type]
    with pytest.raises(GameError, match="'Seat 1' is not an identifier"):
        Game(name="g", task_source=nothing, roles={"Seat 1": RoleSpec()}, **kw)  # type: ignore[arg-type]


def test_a_run_that_would_train_a_role_nothing_fails_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    code = main(
        [
            "run",
            str(GAME_FILE),
            "--run-dir",
            str(run_dir),
            "--set",
            "trainer.estimators.solver=grpo",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "role 'solver'" in err and "set it to 'rae'" in err
    assert not run_dir.exists()  # nothing was started or written
