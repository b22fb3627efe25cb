"""Pipelined JetStream publishing with one reply subscription and a counter per batch.

nats-py's `publish_async` costs a future, a done-callback, a random token and a JSON parse of
every ack into a PubAck; for 10 KB samples that is most of the client's time per message. Here a
batch shares one reply prefix (`<inbox>.<batch>.<index>`), an ack only ticks a counter (its JSON
is parsed only when it carries an error), and at most `window` messages are in flight. Messages
whose ack does not come in time are published again with the same Nats-Msg-Id, which JetStream
drops as duplicates if the first try was stored: a retry is never a second copy. A batch that
fails while the connection is down raises ConnectionLostError (the server is gone), not the
PublishError that says a retry is safe.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Sequence
from typing import Any

from sparring.bus.errors import ConnectionLostError, PublishError

__all__ = ["Outgoing", "Publisher"]

_MSG_ID = "Nats-Msg-Id"

Outgoing = tuple[str, bytes, str]
"""(subject, payload, message id)."""


class _Batch:
    __slots__ = ("acked", "done", "errors", "left", "room", "sent", "window")

    def __init__(self, n: int, window: int) -> None:
        self.acked = bytearray(n)
        self.left = n
        self.sent = 0
        self.errors: dict[int, str] = {}
        self.done = asyncio.Event()
        self.room = asyncio.Event()
        self.window = window


class Publisher:
    """Publishes batches on one connection; `publish` returns when each message is stored."""

    def __init__(self, nc: Any, timeout: float, window: int = 4000, retries: int = 2) -> None:
        self._nc = nc
        self._timeout = timeout
        self._window = window
        self._retries = retries
        self._prefix = ""
        self._batches: dict[str, _Batch] = {}
        self._ids = itertools.count()

    async def start(self) -> None:
        inbox = self._nc.new_inbox()
        self._prefix = inbox + "."
        await self._nc.subscribe(
            inbox + ".*.*", cb=self._on_ack, pending_msgs_limit=-1, pending_bytes_limit=-1
        )

    async def publish(self, items: Sequence[Outgoing]) -> None:
        """Publish all items; PublishError if any is refused or never acked after retries."""
        if not items:
            return
        key = str(next(self._ids))
        batch = _Batch(len(items), self._window)
        self._batches[key] = batch
        try:
            todo: Sequence[int] = range(len(items))
            for _attempt in range(self._retries + 1):
                await self._send(key, batch, items, todo)
                try:
                    await asyncio.wait_for(batch.done.wait(), self._timeout)
                except TimeoutError:
                    todo = [i for i in todo if not batch.acked[i]]
                    continue
                break
            else:
                subject = items[todo[0]][0]
                raise self.failure(subject, f"{len(todo)} of {len(items)} messages not acked")
            if batch.errors:
                i, reason = next(iter(batch.errors.items()))
                raise PublishError(items[i][0], f"{len(batch.errors)} refused, first: {reason}")
        finally:
            del self._batches[key]

    def failure(self, subject: str, reason: str) -> PublishError:
        """The error of a failed publish: ConnectionLostError while the server is away."""
        if not self._nc.is_connected:
            return ConnectionLostError(subject, reason)
        return PublishError(subject, reason)

    async def _send(
        self, key: str, batch: _Batch, items: Sequence[Outgoing], todo: Sequence[int]
    ) -> None:
        publish, prefix, n = self._nc.publish, f"{self._prefix}{key}.", len(items)
        for i in todo:
            subject, payload, msg_id = items[i]
            await publish(subject, payload, reply=f"{prefix}{i}", headers={_MSG_ID: msg_id})
            batch.sent += 1
            # Keep at most `window` un-acked: past it, wait until half of them came back.
            if batch.sent - (n - batch.left) >= batch.window:
                batch.room.clear()
                try:
                    await asyncio.wait_for(batch.room.wait(), self._timeout)
                except TimeoutError:
                    return  # the caller's wait times out too and sends what is missing again

    async def _on_ack(self, msg: Any) -> None:
        key, _, index = msg.subject[len(self._prefix) :].partition(".")
        batch = self._batches.get(key)
        if batch is None:
            return  # a late ack of a batch that already finished
        i = int(index)
        if batch.acked[i]:
            return
        data = msg.data
        if not data or b'"error"' in data:
            batch.errors[i] = _error_of(msg)
        batch.acked[i] = 1
        batch.left -= 1
        if not batch.left:
            batch.done.set()
        if not batch.room.is_set() and batch.sent - (len(batch.acked) - batch.left) <= (
            batch.window // 2
        ):
            batch.room.set()


def _error_of(msg: Any) -> str:
    if not msg.data:
        status = (msg.headers or {}).get("Status", "")
        if status == "503":
            return "no stream listens on this subject (were the run's streams created?)"
        return f"status {status} {(msg.headers or {}).get('Description', '')}".strip()
    try:
        err = json.loads(msg.data)["error"]
        return f"{err.get('description', err)} (code {err.get('err_code', '?')})"
    except (ValueError, KeyError, TypeError, AttributeError):
        return msg.data.decode(errors="replace")
