"""Subject, stream and bucket names of one run: the only place a NATS name is spelled.

    sparring.<run>.task.<game>             stream sparring-<run>-tasks     (work queue)
    sparring.<run>.sample.<game>.<role>    stream sparring-<run>-samples
    sparring.<run>.episode.<game>          stream sparring-<run>-episodes
    sparring.<run>.metric.<source>         stream sparring-<run>-metrics
    sparring.<run>.dead                    stream sparring-<run>-dead
    KV bucket sparring-<run>-policy (key `current`), Object Store sparring-<run>-weights.

Every name token (run, game, source, durable) must be 1-64 of [A-Za-z0-9_-]: that is what NATS
allows in stream and bucket names and it keeps subject tokens free of '.', '*' and '>'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sparring.bus.errors import RunNameError
from sparring.messages import DeadLetter, Episode, Metric, PolicyVersion, Sample, Task

__all__ = ["RunNames", "check_token", "suggest_token"]

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BAD = re.compile(r"[^A-Za-z0-9_-]+")

POLICY_KEY = "current"


def suggest_token(name: str) -> str:
    """A valid token close to `name` (bad characters become '-'), for error messages."""
    return (_BAD.sub("-", name).strip("-") or "run")[:64]


def check_token(what: str, name: str) -> str:
    """Return `name` if it is a valid NATS name token, else raise RunNameError saying why."""
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise RunNameError(what, str(name), suggest_token(str(name)))
    return name


@dataclass(frozen=True)
class RunNames:
    """All NATS names of one run."""

    run: str
    _subjects: dict[tuple[str, object, object], str] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        check_token("run name", self.run)

    @property
    def prefix(self) -> str:
        return f"sparring.{self.run}"

    def stream(self, kind: str) -> str:
        """Stream name for a stream kind: tasks, samples, episodes, metrics or dead."""
        return f"sparring-{self.run}-{kind}"

    @property
    def policy_bucket(self) -> str:
        return f"sparring-{self.run}-policy"

    @property
    def weights_bucket(self) -> str:
        return f"sparring-{self.run}-weights"

    @property
    def dead_subject(self) -> str:
        return f"{self.prefix}.dead"

    def subject_of(self, msg: Task | Sample | Episode | Metric | DeadLetter) -> str:
        """The subject a message is published on (its game/role/source as tokens)."""
        # Cached: a worker publishes thousands of samples on a handful of subjects.
        key = (msg.kind, getattr(msg, "game", None) or getattr(msg, "source", None),
               getattr(msg, "role", None))  # fmt: skip
        subject = self._subjects.get(key)
        if subject is None:
            subject = self._subjects[key] = self._subject_of(msg)
        return subject

    def _subject_of(self, msg: Task | Sample | Episode | Metric | DeadLetter) -> str:
        if isinstance(msg, Sample):
            return f"{self.prefix}.sample.{check_token('game', msg.game)}.{msg.role}"
        if isinstance(msg, Task):
            return f"{self.prefix}.task.{check_token('game', msg.game)}"
        if isinstance(msg, Episode):
            return f"{self.prefix}.episode.{check_token('game', msg.game)}"
        if isinstance(msg, Metric):
            return f"{self.prefix}.metric.{check_token('metric source', msg.source)}"
        return self.dead_subject

    def filter_subject(
        self, kind: type[object], game: str | None = None, role: str | None = None
    ) -> str:
        """The subject filter selecting one kind, optionally one game (and one role)."""
        g = "*" if game is None else check_token("game", game)
        if kind is Sample:
            r = "*" if role is None else check_token("role", role)
            return f"{self.prefix}.sample.{g}.{r}"
        if kind is Task:
            return f"{self.prefix}.task.{g}"
        if kind is Episode:
            return f"{self.prefix}.episode.{g}"
        if kind is Metric:
            return f"{self.prefix}.metric.{g}"
        return self.dead_subject


STREAM_OF: dict[str, str] = {
    "task": "tasks",
    "sample": "samples",
    "episode": "episodes",
    "metric": "metrics",
    "dead_letter": "dead",
}
"""Message kind -> stream kind; PolicyVersion lives in the KV bucket, not a stream."""

KIND_OF: dict[type[object], str] = {
    Task: "task",
    Sample: "sample",
    Episode: "episode",
    Metric: "metric",
    DeadLetter: "dead_letter",
    PolicyVersion: "policy_version",
}
