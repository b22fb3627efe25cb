"""The docs stay true: every folder the architecture page names exists, the README's two
commands exist in the Makefile, and .ci/run runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_folder_the_architecture_page_names_exists() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    folders = set(re.findall(r"`([a-z_]+)/`", text))
    assert {"bus", "policy", "roles", "graphs", "trainer", "inspector", "tools"} <= folders
    for folder in folders:
        assert (ROOT / folder).is_dir(), folder


def test_the_readme_commands_are_make_targets_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^(make \w+)", readme, flags=re.M)
    assert commands[:2] == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    for command in commands:
        assert re.search(rf"^{command.split()[1]}:", makefile, flags=re.M), command
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_the_writing_a_game_page_counts_the_minimal_example_truly() -> None:
    page = (ROOT / "docs" / "writing-a-game.md").read_text()
    lines = len((ROOT / "examples" / "reverse" / "game.py").read_text().splitlines())
    assert f"({lines} lines with its docstring)" in page and f"{lines} lines, against" in page
