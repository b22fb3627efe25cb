"""The run config: one validated file plus overrides, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparring.config import apply_overrides, load_config, save_config
from sparring.errors import ConfigError


def test_defaults_need_no_file() -> None:
    config = load_config(None)
    assert config.game == "arith"
    assert config.worker.workers >= 1


def test_yaml_and_toml_files_are_read_and_overrides_win(tmp_path: Path) -> None:
    (tmp_path / "run.yaml").write_text("game: arith\nworker:\n  concurrency: 8\n")
    (tmp_path / "run.toml").write_text('game = "arith"\n[worker]\nconcurrency = 8\n')
    for name in ("run.yaml", "run.toml"):
        config = load_config(tmp_path / name, ["worker.concurrency=4", "loop.minutes=2.5"])
        assert config.worker.concurrency == 4
        assert config.loop.minutes == 2.5


def test_a_bad_value_names_the_field_the_problem_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("worker:\n  concurrency: -3\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert e.value.field == "worker.concurrency"
    assert "greater than or equal to 1" in str(e.value)
    assert "-3" in str(e.value)
    assert str(path) in str(e.value)


def test_a_misspelt_field_is_refused_not_ignored() -> None:
    with pytest.raises(ConfigError, match=r"worker\.concurrancy.*unknown field"):
        load_config(None, ["worker.concurrancy=4"])


def test_an_override_without_a_value_says_how_to_write_one() -> None:
    with pytest.raises(ConfigError, match=r"section\.field=value"):
        apply_overrides({}, ["worker.concurrency"])


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)


def test_the_saved_config_reads_back_identically(tmp_path: Path) -> None:
    config = load_config(None, ["worker.concurrency=3", "run=abc"])
    save_config(config, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == config


def test_a_game_s_run_defaults_lie_under_the_file_and_the_overrides(tmp_path: Path) -> None:
    defaults = {"trainer": {"batch_groups": 8, "min_samples": 64}, "worker": {"concurrency": 16}}
    (tmp_path / "run.yaml").write_text("trainer:\n  min_samples: 32\n")
    config = load_config(tmp_path / "run.yaml", ["worker.concurrency=4"], defaults=defaults)
    assert config.trainer.batch_groups == 8  # the game's, nobody else set it
    assert config.trainer.min_samples == 32  # the file wins
    assert config.worker.concurrency == 4  # the override wins
    assert load_config(None).trainer.batch_groups != 8  # no game defaults: the global ones
