"""The code task source: a task type, a difficulty per type's curriculum, and references.

Each task draws its type uniformly from `cfg.task_types` and its difficulty from that type's
`Curriculum` (graphs/curriculum.py: the half-solved level most, with `curriculum="adaptive"`).
With `tasks="proposer"` it hands the proposer `cfg.references` earlier valid tasks of the type
from the `TaskBuffer`, and adds every valid proposal it observes to the buffer (persisted in
`state_dir`, so a restarted worker keeps its buffer). With `tasks="oracle"` the task is a
generated program instead, and no proposer plays (the fixed baseline).
"""

from __future__ import annotations

import random
from pathlib import Path

from pydantic import JsonValue, ValidationError

from sparring.graphs.code.buffer import BufferedTask, TaskBuffer
from sparring.graphs.code.config import CodeConfig, TaskType
from sparring.graphs.code.programs import random_program
from sparring.graphs.code.prompts import task_text
from sparring.graphs.curriculum import Curriculum
from sparring.graphs.episode import EpisodeOutcome

__all__ = ["CodeTaskSource", "proposer_role", "solver_role"]


def proposer_role(task_type: TaskType) -> str:
    """The proposer's role name for one task type (its own baseline: AZR's TRR++)."""
    return f"proposer_{task_type}"


def solver_role(task_type: TaskType) -> str:
    """The solver's role name for one task type."""
    return f"solver_{task_type}"


class CodeTaskSource:
    """Draws code tasks; keeps the buffer of valid ones; adapts the difficulty per type."""

    def __init__(self, cfg: CodeConfig, seed: int = 0, state_dir: Path | None = None) -> None:
        self._cfg = cfg
        self._rng = random.Random(seed)
        self.buffer = TaskBuffer(cfg, state_dir, seed)
        self._levels: dict[str, Curriculum] = {
            t: cfg.curriculum_over(cfg.levels) for t in cfg.task_types
        }

    def probabilities(self, task_type: TaskType) -> dict[int, float]:
        """The chance of drawing each level next for one task type."""
        return self._levels[task_type].probabilities()

    def next_params(self) -> dict[str, JsonValue]:
        task_type = self._rng.choice(self._cfg.task_types)
        difficulty = self._levels[task_type].draw(self._rng)
        params: dict[str, JsonValue] = {"type": task_type, "difficulty": difficulty}
        if self._cfg.tasks == "oracle":
            p = random_program(self._rng, difficulty)
            return params | {"program": p.source, "input": str(p.input), "output": str(p.output)}
        refs = self.buffer.sample(task_type, self._cfg.references, self._rng)
        return params | {"references": [task_text(r.program, r.input) for r in refs]}

    def observe(self, outcome: EpisodeOutcome) -> None:
        """Count the solve rate toward the type's level; keep a valid proposal in the buffer."""
        episode = outcome.episode
        task_type = next(
            (t for t in self._cfg.task_types if t == episode.task.params.get("type")), None
        )
        if task_type is None:
            return
        self._levels[task_type].observe(
            episode.task.params.get("difficulty"), episode.stats.get("solve_rate")
        )
        for turn in episode.turns:
            parsed = turn.parsed
            if turn.role != proposer_role(task_type) or not isinstance(parsed, dict):
                continue
            if parsed.get("status") == "valid":
                try:
                    fields = {k: parsed.get(k) for k in ("program", "input", "output")}
                    task = BufferedTask.model_validate(fields)
                except ValidationError:
                    continue
                self.buffer.add(task_type, task)
