"""Every command explains itself with --help, and the schema command writes valid schemas."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from sparring.cli import build_parser, main


def _commands() -> list[str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return sorted(action.choices)
    return []


def test_the_cli_has_commands() -> None:
    assert "schema" in _commands()


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_a_help_text(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: sparring " + command)
    assert len(out.splitlines()) >= 4


def test_the_installed_script_runs() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "sparring.cli", "--help"], capture_output=True, text=True
    )
    assert r.returncode == 0
    assert "self-play" in r.stdout


def test_schema_writes_a_json_schema_per_message_kind(tmp_path: Path) -> None:
    assert main(["schema", str(tmp_path)]) == 0
    kinds = {p.name.removesuffix(".schema.json") for p in tmp_path.glob("*.schema.json")}
    assert kinds == {"task", "sample", "episode", "policy_version", "metric", "dead_letter"}
    sample = json.loads((tmp_path / "sample.schema.json").read_text())
    assert sample["additionalProperties"] is False
    assert sample["properties"]["completion_ids"]["contentEncoding"] == "base64"
    assert "role" in sample["required"]


# A game in a user file whose name ("duel") differs from the file's, with a setting of its own.
DUEL_FILE = """
from pydantic import BaseModel, ConfigDict, Field
from sparring.graphs.game import Game


class DuelConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    max_turns: int = Field(6, ge=1, description="Turns before the duel is a draw.")


game = Game(
    name="duel",
    config_model=DuelConfig,
    build=lambda policies, cfg: None,
    score=lambda state, calls, cfg: None,
    task_source=lambda cfg, seed: None,
)
"""


def test_a_user_file_game_run_is_named_after_the_game_not_the_file(tmp_path: Path) -> None:
    from sparring.launcher import resolve

    path = tmp_path / "my_file.py"
    path.write_text(DUEL_FILE)
    config, run_dir = resolve(build_parser().parse_args(["run", str(path)]))
    assert str(config.run).startswith("duel-") and run_dir.name == config.run


def test_a_bad_game_param_gets_one_clean_line_and_no_run_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_file.py").write_text(DUEL_FILE)
    rc = main(["run", "my_file.py", "--set", "game_params.max_turns=many"])
    out, err = capsys.readouterr()
    assert rc == 1
    assert err.strip().splitlines() == [
        "sparring: error: config field 'game_params.max_turns': Input should be a valid "
        "integer, unable to parse string as an integer (got 'many')"
    ]
    assert "run directory" not in out and not (tmp_path / "runs").exists()


def test_config_lists_every_field_with_its_description_and_the_games_own_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sparring.config import RunConfig

    path = tmp_path / "my_file.py"
    path.write_text(DUEL_FILE)
    assert main(["config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "  game_params.max_turns = 6\n      Turns before the duel is a draw." in out
    assert "  trainer.lr = 0.0001\n      AdamW learning rate." in out
    assert "\n[trainer.lora]  (when set)" in out and "  trainer.lora.rank = " in out
    for section, field in RunConfig.model_fields.items():
        factory = field.default_factory
        if isinstance(factory, type) and issubclass(factory, BaseModel):
            assert f"\n[{section}]" in out
            for name, sub in factory.model_fields.items():
                inner = sub.default_factory  # a model: a section of its own
                nested = isinstance(inner, type) and issubclass(inner, BaseModel)
                shown = f"\n[{section}.{name}]" if nested else f"  {section}.{name} = "
                assert shown in out and (sub.description or "") in out


def test_run_help_lists_the_config_sections_and_points_to_sparring_config(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "game_params" in out and "trainer" in out and "sparring config GAME" in out


def test_a_game_s_run_defaults_reach_its_run_and_its_config_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sparring.launcher import resolve

    path = tmp_path / "duel.py"
    seven = "    task_source=lambda cfg, seed: None,\n"
    path.write_text(
        DUEL_FILE.replace(seven, f'{seven}    run_defaults={{"trainer": {{"batch_groups": 3}}}},\n')
    )
    config, _ = resolve(build_parser().parse_args(["run", str(path)]))
    assert config.trainer.batch_groups == 3
    config, _ = resolve(
        build_parser().parse_args(["run", str(path), "--set", "trainer.batch_groups=5"])
    )
    assert config.trainer.batch_groups == 5
    assert main(["config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "trainer.batch_groups=3" in out and "  trainer.batch_groups = 3" in out
