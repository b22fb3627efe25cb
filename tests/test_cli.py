"""Every command explains itself with --help, and the schema command writes valid schemas."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

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
