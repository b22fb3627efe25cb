"""What the trainer did with each sample: the advantage it trained on, read from its ledger.

The trainer appends one JSON line per committed step to `RUN_DIR/trainer/trained.jsonl`
(`{"step", "sample_ids", "advantages"}`, advantages aligned with the ids; ledgers written before
advantages were recorded have none). The inspector shows that advantage next to each reward:
what the estimator really used (GRPO divides by the group's spread, RAE subtracts a running
baseline), not a reconstruction. A sample absent from the ledger was not (yet) trained.

The file is read incrementally, from where the last read stopped; a ledger that shrank (the
trainer reconciles it with its checkpoint on resume) is read again from the start.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["Ledger", "Trained"]

Trained = dict[str, float | int | None]
"""{"step": the optimizer step, "advantage": the advantage, or None in an old ledger}."""


class Ledger:
    """The trained samples of one run, by sample id."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._offset = 0
        self._by_sample: dict[str, Trained] = {}

    def lookup(self, sample_ids: list[str]) -> dict[str, Trained]:
        """The trained entries among `sample_ids` (refreshing from the file first)."""
        self._refresh()
        return {i: self._by_sample[i] for i in sample_ids if i in self._by_sample}

    def _refresh(self) -> None:
        if self.path is None or not self.path.exists():
            return
        size = self.path.stat().st_size
        if size < self._offset:  # rewritten shorter: start over
            self._offset, self._by_sample = 0, {}
        if size == self._offset:
            return
        with self.path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]  # a line being appended waits for next time
        self._offset += len(complete)
        for line in complete.splitlines():
            try:
                step = json.loads(line)
                ids, advantages = step["sample_ids"], step.get("advantages") or []
            except (ValueError, KeyError, TypeError):
                continue  # not a ledger line: show the rest
            for n, sample_id in enumerate(ids):
                advantage = advantages[n] if n < len(advantages) else None
                self._by_sample[sample_id] = {"step": step.get("step"), "advantage": advantage}
