"""The episodes the inspector has seen, in arrival order, with live subscribers.

The follower task `add`s each episode read from the bus; each open page `subscribe`s, replays the
`snapshot` and then reads new arrivals from its queue. Every entry carries a sequence number so a
subscriber that subscribed before taking the snapshot can skip what it already sent (no gap, no
duplicate). Memory is bounded: past `capacity` the oldest episodes are forgotten (they stay in
JetStream; reopen the run to see them).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sparring.inspector.filters import search_text
from sparring.inspector.summary import summarize
from sparring.messages import Episode

__all__ = ["Entry", "EpisodeStore"]

_QUEUE_LIMIT = 10_000


@dataclass(frozen=True)
class Entry:
    """One stored episode with what is derived from it once, on arrival."""

    seq: int
    episode: Episode
    summary: dict[str, Any]
    text: str


class EpisodeStore:
    """Episodes by id in arrival order, bounded, with asyncio queues for live followers."""

    def __init__(self, capacity: int = 5_000) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._subscribers: set[asyncio.Queue[Entry | None]] = set()
        self._seq = 0
        self.error: str | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, episode: Episode) -> Entry | None:
        """Store an episode and wake subscribers; a repeated id is ignored (returns None)."""
        if episode.id in self._entries:
            return None
        self._seq += 1
        entry = Entry(self._seq, episode, summarize(episode, self._seq), search_text(episode))
        self._entries[episode.id] = entry
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        for queue in list(self._subscribers):
            if queue.qsize() >= _QUEUE_LIMIT:
                # A follower this far behind is gone or stuck: end its stream (a page
                # reconnects and replays) rather than let its queue grow without bound.
                self._subscribers.discard(queue)
                queue.put_nowait(None)
            else:
                queue.put_nowait(entry)
        return entry

    def get(self, episode_id: str) -> Entry | None:
        """The stored entry with this id, if it is (still) held."""
        return self._entries.get(episode_id)

    def snapshot(self) -> list[Entry]:
        """Every held entry, oldest first."""
        return list(self._entries.values())

    def fail(self, error: str | None) -> None:
        """Record why the follower stopped (None: it is fine again), for the page to show."""
        self.error = error

    @contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[Entry | None]]:
        """A queue of new entries for the duration of the `with` block; None means "stop"."""
        queue: asyncio.Queue[Entry | None] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
