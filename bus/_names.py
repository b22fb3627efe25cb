"""Subject, stream and bucket names of one run: the only place a NATS name is spelled.

    sparring.<run>.task.<game>             stream sparring-<run>-tasks     (work queue)
    sparring.<run>.sample.<game>.<role>    stream sparring-<run>-samples
    sparring.<run>.episode.<game>          stream sparring-<run>-episodes
    sparring.<run>.metric.<source>         stream sparring-<run>-metrics
    sparring.<run>.dead                    stream sparring-<run>-dead
    KV bucket sparring-<run>-policy (key `current`), Object Store sparring-<run>-weights.

`ROUTES` says this once per message kind (the kinds are those of `sparring.messages.MESSAGES`);
subjects, subject filters and stream set-up are all built from it, and this module refuses to
import while a kind has no route, so a new message kind cannot silently land on the wrong stream.

Every name token (run, game, source, durable) must be 1-64 of [A-Za-z0-9_-]: that is what NATS
allows in stream and bucket names and it keeps subject tokens free of '.', '*' and '>'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel

from sparring.bus.errors import BusError, RunNameError
from sparring.messages import MESSAGES, Message

__all__ = ["ROUTES", "Route", "RunNames", "check_token", "route_of", "suggest_token"]

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BAD = re.compile(r"[^A-Za-z0-9_-]+")

POLICY_KEY = "current"


@dataclass(frozen=True)
class Route:
    """Where the messages of one kind are stored and on which subjects."""

    stream: str | None
    """Stream kind (the stream is sparring-<run>-<stream>); None: kept in the policy KV."""
    token: str = ""
    """Subject token after the run: sparring.<run>.<token>...."""
    fields: tuple[str, ...] = ()
    """Message fields whose values are the next subject tokens, in order (a consumer may filter
    on them)."""
    work_queue: bool = False
    """Each message is delivered to one consumer and removed once acked (tasks)."""


ROUTES: dict[str, Route] = {
    "task": Route("tasks", "task", ("game",), work_queue=True),
    "sample": Route("samples", "sample", ("game", "role")),
    "episode": Route("episodes", "episode", ("game",)),
    "metric": Route("metrics", "metric", ("source",)),
    "dead_letter": Route("dead", "dead"),
    "policy_version": Route(None),
}
"""Message kind -> route."""

if ROUTES.keys() != MESSAGES.keys():
    raise ImportError(
        f"bus routes {sorted(ROUTES)} do not match the message kinds {sorted(MESSAGES)}: "
        "give every kind of sparring.messages.Message a route in sparring/bus/_names.py"
    )

_KIND_OF: dict[type[BaseModel], str] = {cls: kind for kind, cls in MESSAGES.items()}


def route_of(cls: type[BaseModel]) -> Route:
    """The route of a message class; BusError if it is not a bus message."""
    kind = _KIND_OF.get(cls)
    if kind is None:
        raise BusError(f"{cls.__name__} is not a message of the bus")
    return ROUTES[kind]


def suggest_token(name: str) -> str:
    """A valid token close to `name` (bad characters become '-'), for error messages."""
    return (_BAD.sub("-", name).strip("-") or "run")[:64]


def check_token(what: str, name: str) -> str:
    """Return `name` if it is a valid NATS name token, else raise RunNameError saying why."""
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise RunNameError(what, str(name), suggest_token(str(name)))
    return name


_WHAT = {"source": "metric source"}
"""How check_token names a field in its error, where the field name alone would not say."""


@dataclass(frozen=True)
class RunNames:
    """All NATS names of one run."""

    run: str
    _subjects: dict[tuple[object, ...], str] = field(
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
        return self.stream_subject(ROUTES["dead_letter"])

    def stream_subject(self, route: Route) -> str:
        """The subjects a route's stream holds, as one wildcard filter."""
        return ".".join([self.prefix, route.token, *("*" for _ in route.fields)])

    def subject_of(self, msg: Message) -> str:
        """The subject a message is published on (its route's fields as tokens)."""
        route = ROUTES[msg.kind]
        values = tuple(getattr(msg, f) for f in route.fields)
        # Cached: a worker publishes thousands of samples on a handful of subjects.
        key = (msg.kind, *values)
        subject = self._subjects.get(key)
        if subject is None:
            if route.stream is None:
                raise BusError(f"a {msg.kind} message is not published on a subject")
            tokens = (
                check_token(_WHAT.get(f, f), v) for f, v in zip(route.fields, values, strict=True)
            )
            subject = self._subjects[key] = ".".join([self.prefix, route.token, *tokens])
        return subject

    def filter_subject(
        self, kind: type[BaseModel], game: str | None = None, role: str | None = None
    ) -> str:
        """The subject filter selecting one kind, optionally by the first (game, or a metric's
        source) and second (role) of its route's fields; '*' where not given."""
        route = route_of(kind)
        if route.stream is None:
            raise BusError(f"{kind.__name__} messages are not published on a subject")
        given, tokens = [game, role], []
        for i, f in enumerate(route.fields):
            value = given[i] if i < len(given) else None
            tokens.append("*" if value is None else check_token(_WHAT.get(f, f), value))
        return ".".join([self.prefix, route.token, *tokens])
