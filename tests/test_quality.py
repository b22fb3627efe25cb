"""The tree stays clean: lint, format, types, the import layers of DESIGN.md, and the wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def _tool(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else name


def test_ruff_finds_no_lint_errors() -> None:
    r = _run(_tool("ruff"), "check", ".")
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_format_leaves_the_tree_unchanged() -> None:
    r = _run(_tool("ruff"), "format", "--check", ".")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_passes_over_the_package() -> None:
    r = _run(_tool("mypy"))
    assert r.returncode == 0, r.stdout + r.stderr


def test_import_layers_follow_the_design() -> None:
    r = _run(_tool("lint-imports"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


@pytest.mark.slow
def test_wheel_holds_only_the_sparring_package(tmp_path: Path) -> None:
    src = tmp_path / "src"
    # Copy the tree with its symlinks, as a fresh clone has it.
    shutil.copytree(
        ROOT,
        src,
        symlinks=True,
        ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "runs", "__py*"),
    )
    r = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(tmp_path), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    (wheel,) = tmp_path.glob("sparring-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"sparring", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    for folder in ("bus", "policy", "roles", "tools", "graphs", "trainer", "inspector"):
        assert f"sparring/{folder}/__init__.py" in names, folder
    assert "sparring/messages.py" in names


def test_every_package_declares_all() -> None:
    for init in (ROOT / "sparring").rglob("__init__.py"):
        assert "__all__" in init.read_text(), init
