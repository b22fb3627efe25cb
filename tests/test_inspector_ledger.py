"""The inspector reads the trainer's ledger incrementally, old lines and half-written ones too."""

from __future__ import annotations

import json
from pathlib import Path

from sparring.inspector.ledger import Ledger


def _line(step: int, ids: list[str], advantages: list[float] | None = None) -> str:
    data: dict[str, object] = {"step": step, "sample_ids": ids}
    if advantages is not None:
        data["advantages"] = advantages
    return json.dumps(data) + "\n"


def test_advantages_are_found_by_sample_and_new_steps_are_read_as_they_come(tmp_path: Path) -> None:
    path = tmp_path / "trained.jsonl"
    ledger = Ledger(path)
    assert ledger.lookup(["a"]) == {}  # no trainer yet
    path.write_text(_line(1, ["a", "b"], [0.5, -0.5]) + _line(2, ["old"]))
    assert ledger.lookup(["a", "old", "x"]) == {
        "a": {"step": 1, "advantage": 0.5},
        "old": {"step": 2, "advantage": None},  # a ledger from before advantages were kept
    }
    with path.open("a") as f:
        f.write(_line(3, ["c"], [1.25]) + '{"step": 4, "sample_')  # the last line half-written
    assert ledger.lookup(["c", "b"]) == {
        "c": {"step": 3, "advantage": 1.25},
        "b": {"step": 1, "advantage": -0.5},
    }
    with path.open("a") as f:
        f.write('ids": ["d"], "advantages": [2.0]}\n')
    assert ledger.lookup(["d"]) == {"d": {"step": 4, "advantage": 2.0}}


def test_a_ledger_rewritten_shorter_is_read_again_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "trained.jsonl"
    path.write_text(_line(1, ["a"], [1.0]) + _line(2, ["b"], [2.0]))
    ledger = Ledger(path)
    assert set(ledger.lookup(["a", "b"])) == {"a", "b"}
    path.write_text(_line(1, ["a"], [1.0]))  # reconciled with the checkpoint on resume
    assert set(ledger.lookup(["a", "b"])) == {"a"}
