"""Group batching: hold samples until their group is complete, drop groups that never complete.

Samples announce how many members their group has (`Sample.group_size`). `GroupBuffer.add`
returns a group the moment its last member arrives; `expire(now)` hands back the groups whose
first member has waited longer than the timeout (a worker died mid-episode, or a sample was
dead-lettered), for the caller to count, ack and forget. Duplicates (the same sample id twice)
are the caller's business: it tracks every un-acked sample id, so the buffer never sees one twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sparring.messages import Sample

__all__ = ["GroupBuffer"]


@dataclass
class _Pending:
    size: int
    first_seen: float
    samples: list[Sample] = field(default_factory=list)


class GroupBuffer:
    """Incomplete groups, keyed by group id, in order of first arrival."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._groups: dict[str, _Pending] = {}

    def add(self, sample: Sample, now: float) -> list[Sample] | None:
        """Buffer `sample`; return its whole group (and forget it) if that completed it."""
        pending = self._groups.get(sample.group_id)
        if pending is None:
            pending = self._groups[sample.group_id] = _Pending(sample.group_size, now)
        pending.samples.append(sample)
        if len(pending.samples) < pending.size:
            return None
        del self._groups[sample.group_id]
        return pending.samples

    def expire(self, now: float) -> list[list[Sample]]:
        """Remove and return the groups still incomplete `timeout_s` after their first sample."""
        old = [g for g, p in self._groups.items() if now - p.first_seen > self.timeout_s]
        return [self._groups.pop(g).samples for g in old]

    def __len__(self) -> int:
        return len(self._groups)

    @property
    def n_samples(self) -> int:
        """Samples waiting in incomplete groups."""
        return sum(len(p.samples) for p in self._groups.values())
