"""The buffer of valid tasks, per task type, that seeds later proposals and survives a restart.

AZR keeps every valid proposal and shows the proposer a few of them as references for the
next one; this is that buffer. It starts from `seed_tasks` generated programs (AZR seeds its
buffer too) and grows by every valid proposal the task source observes. Given a folder (the
worker's state folder in the run directory, `Game.task_source(..., state_dir)`), each type's
tasks are appended to `buffer-<type>.jsonl` as they come, and a restarted worker reads them
back; the newest `buffer_size` of a type are kept. A line that does not parse (a crash mid-line)
is skipped, so a damaged file costs one task, never the run.
"""

from __future__ import annotations

import json
import random
from collections import deque
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sparring.graphs.code.config import CodeConfig, TaskType
from sparring.graphs.code.programs import random_program

__all__ = ["BufferedTask", "TaskBuffer"]


class BufferedTask(BaseModel):
    """One valid task: a program, its input and what it returns there."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    program: str = Field(description="The program's source.")
    input: str = Field(description="Canonical repr of the input.")
    output: str = Field(description="Canonical repr of f(input).")


class TaskBuffer:
    """Valid tasks per type, newest last, persisted under `folder` when one is given."""

    def __init__(self, cfg: CodeConfig, folder: Path | None, seed: int = 0) -> None:
        self._folder = folder
        self._tasks = {t: deque[BufferedTask](maxlen=cfg.buffer_size) for t in cfg.task_types}
        for task_type, tasks in self._tasks.items():
            tasks.extend(self._load(task_type))
            if not tasks:
                tasks.extend(_seeds(cfg, random.Random(f"{seed}/{task_type}")))

    def __len__(self) -> int:
        return sum(len(t) for t in self._tasks.values())

    def tasks(self, task_type: TaskType) -> list[BufferedTask]:
        """The type's tasks, oldest first."""
        return list(self._tasks[task_type])

    def sample(self, task_type: TaskType, k: int, rng: random.Random) -> list[BufferedTask]:
        """Up to `k` distinct tasks of the type, drawn uniformly (AZR's reference draw)."""
        pool = self._tasks[task_type]
        return rng.sample(list(pool), min(k, len(pool)))

    def add(self, task_type: TaskType, task: BufferedTask) -> None:
        """Keep a valid task (and append it to the type's file)."""
        self._tasks[task_type].append(task)
        if self._folder is not None:
            self._folder.mkdir(parents=True, exist_ok=True)
            with self._path(task_type).open("a") as f:
                f.write(task.model_dump_json() + "\n")

    def _path(self, task_type: TaskType) -> Path:
        assert self._folder is not None
        return self._folder / f"buffer-{task_type}.jsonl"

    def _load(self, task_type: TaskType) -> list[BufferedTask]:
        if self._folder is None or not self._path(task_type).is_file():
            return []
        out = []
        for line in self._path(task_type).read_text().splitlines():
            try:
                out.append(BufferedTask.model_validate_json(line))
            except (ValidationError, json.JSONDecodeError, ValueError):
                continue  # a line cut by a crash: skip it, keep the rest
        return out


def _seeds(cfg: CodeConfig, rng: random.Random) -> list[BufferedTask]:
    """Generated tasks over the game's levels, for an empty buffer."""
    programs = [random_program(rng, rng.choice(cfg.levels)) for _ in range(cfg.seed_tasks)]
    return [
        BufferedTask(program=p.source, input=str(p.input), output=str(p.output)) for p in programs
    ]
