"""Groups that span episodes: a role whose calls are compared across several episodes.

A role declared with `RoleSpec(grouping="episodes", span=k)` is credited by comparing its calls
from k consecutive episodes of one worker (all moves of a seat across a batch of games, GRPO-style
over the batch), instead of within one episode. `play_episode` groups per episode; this regrouper
sits between it and publication:

    spans = SpanGrouper(game.roles, prefix="worker-0")
    episode, ready = spans.add(outcome)   # publish `ready` samples and `episode` now
    ...
    ready = spans.flush()                 # at stop: the open groups, smaller but complete

Samples of the spanning roles get the group id of the open span at once (so the episode record
names the group they will train in) and are held until the span closes; only then is the group
size known and the samples are released. Samples of other roles pass straight through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sparring.credit import RoleSpec
from sparring.messages import Episode, Sample, new_id

__all__ = ["SpanGrouper"]


@dataclass
class _Span:
    group_id: str
    episodes: int = 0
    samples: list[Sample] = field(default_factory=list)


class SpanGrouper:
    """Holds the samples of spanning roles until `span` episodes have contributed."""

    def __init__(self, roles: Mapping[str, RoleSpec], prefix: str) -> None:
        self._spans = {r: s.span for r, s in roles.items() if s.grouping == "episodes"}
        self._prefix = prefix
        self._open: dict[str, _Span] = {}

    @property
    def active(self) -> bool:
        """Whether any role of the game spans episodes (else `add` is a pass-through)."""
        return bool(self._spans)

    @property
    def held(self) -> int:
        """Samples waiting for their span to close."""
        return sum(len(s.samples) for s in self._open.values())

    def add(self, samples: list[Sample], episode: Episode) -> tuple[Episode, list[Sample]]:
        """Regroup one episode's samples; returns the episode record to publish and the samples
        that are ready (other roles', and every sample of a span this episode closed)."""
        if not self._spans:
            return episode, samples
        ready: list[Sample] = []
        renamed: dict[str, str] = {}
        touched: set[str] = set()
        for s in samples:
            if s.role not in self._spans:
                ready.append(s)
                continue
            span = self._span(s.role)
            span.samples.append(s.model_copy(update={"group_id": span.group_id}))
            renamed[s.id] = span.group_id
            touched.add(s.role)
        for role in touched:
            span = self._open[role]
            span.episodes += 1
            if span.episodes >= self._spans[role]:
                ready += self._close(role)
        rewards = [
            r.model_copy(update={"group_id": renamed[r.sample_id]}) if r.sample_id in renamed else r
            for r in episode.rewards
        ]
        return episode.model_copy(update={"rewards": rewards}), ready

    def flush(self) -> list[Sample]:
        """Close every open span as it is (at stop: a smaller group still trains)."""
        return [s for role in list(self._open) for s in self._close(role)]

    def _span(self, role: str) -> _Span:
        if role not in self._open:
            self._open[role] = _Span(group_id=f"{self._prefix}/{role}/{new_id()}")
        return self._open[role]

    def _close(self, role: str) -> list[Sample]:
        span = self._open.pop(role)
        size = len(span.samples)
        return [s.model_copy(update={"group_size": size}) for s in span.samples]
