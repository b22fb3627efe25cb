"""Consumer and Delivery: typed messages from a durable pull consumer, acked when the caller says.

    consumer = await bus.consumer(Sample, durable="trainer")
    for d in await consumer.fetch(max_messages=256, timeout=1.0):
        train_on(d.message)
        await d.ack()              # or d.nak(delay=...), d.in_progress() to extend ack_wait

A message not acked within `ack_wait_s` is delivered again (`num_delivered` counts the tries).
A message that cannot be read (empty, not msgpack, wrong shape, unknown kind, newer schema, a
kind that does not belong on the stream, a NaN in a Sample) is never returned: it is published
as a `DeadLetter` with the reason, the subject, the consumer and the original bytes (cut to fit
the server's max_payload, and marked so), then terminated on its own stream, counted in
`dead_lettered`, and the fetch carries on. If the letter cannot be stored (the server is away),
the message is left un-acked: it comes back after ack_wait and the letter is tried again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import nats.errors
import nats.js.errors
from pydantic import BaseModel

from sparring.bus._codec import decode, encode
from sparring.bus._names import RunNames
from sparring.errors import MessageError
from sparring.messages import DeadLetter

__all__ = ["Consumer", "Delivery", "dead_letter"]

M = TypeVar("M", bound=BaseModel)

log = logging.getLogger(__name__)


class Delivery(Generic[M]):
    """One delivered message and the handle to settle it."""

    __slots__ = ("_msg", "message")

    def __init__(self, message: M, msg: Any) -> None:
        self.message = message
        self._msg = msg

    @property
    def num_delivered(self) -> int:
        """1 on the first delivery, 2 on the first redelivery, and so on."""
        return int(self._msg.metadata.num_delivered)

    @property
    def stream_seq(self) -> int:
        """The message's sequence number in its stream."""
        return int(self._msg.metadata.sequence.stream)

    async def ack(self) -> None:
        """Done with it: the server will not deliver it again."""
        await self._msg.ack()

    async def nak(self, delay: float | None = None) -> None:
        """Not done: deliver it again, now or after `delay` seconds."""
        await self._msg.nak(delay=delay)

    async def in_progress(self) -> None:
        """Still working on it: restart the ack_wait clock."""
        await self._msg.in_progress()

    async def term(self) -> None:
        """Never deliver it again, without having processed it."""
        await self._msg.term()

    def __repr__(self) -> str:
        return f"Delivery({type(self.message).__name__} id={getattr(self.message, 'id', '?')})"


class Consumer(Generic[M]):
    """A durable pull consumer of one message kind on one run's stream.

    Pull requests go to `$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>` with a reply subject of
    our own (`<inbox>.<request>`), and a callback files what arrives. nats-py's `fetch` instead
    waits on each message through a fresh task and timer, which costs more than the decode.
    A request first asks for what is there now (`no_wait`); only when nothing is, it waits (up to
    `timeout`) and returns the first burst. Messages of a lingering request that arrive after
    the fetch returned are kept for the next fetch.
    """

    def __init__(
        self, kind: type[M], durable: str, nc: Any, js: Any, names: RunNames, stream: str
    ) -> None:
        self.kind = kind
        self.durable = durable
        self._nc = nc
        self._js = js
        self._names = names
        self._stream = stream
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = ""
        self._sub: Any = None
        self._requests = itertools.count()
        self._current = ""  # token of the request a fetch is waiting on
        self._want = 0
        self._got: deque[Any] = deque()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self.dead_lettered = 0
        """Messages this consumer turned into dead letters (since it was made)."""

    async def start(self) -> None:
        self._inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(
            self._inbox + ".*", cb=self._on_msg, pending_msgs_limit=-1, pending_bytes_limit=-1
        )

    # The timeout is the pull request's expiry on the server, not a local timer (ASYNC109).
    async def fetch(
        self,
        max_messages: int = 256,
        timeout: float = 1.0,  # noqa: ASYNC109
    ) -> list[Delivery[M]]:
        """Up to `max_messages` messages, waiting at most `timeout` s for the first; [] if none.
        Concurrent fetches on one Consumer take turns; for parallel pulls make more consumers
        with the same durable name."""
        async with self._lock:
            return await self._fetch(max_messages, timeout)

    async def _fetch(self, max_messages: int, wait_s: float) -> list[Delivery[M]]:
        deadline = time.monotonic() + wait_s
        if not self._got:
            await self._pull({"batch": max_messages, "no_wait": True}, max_messages, wait_s)
        left = deadline - time.monotonic()
        if not self._got and left > 0.002:
            expires = int((left - 0.001) * 1e9)  # expire just before we stop waiting
            await self._pull({"batch": max_messages, "expires": expires}, 1, left)
        return await self._deliveries(max_messages)

    async def ack_many(self, deliveries: Sequence[Delivery[M]]) -> None:
        """Ack a batch at once (the trainer acks a whole step after its checkpoint)."""
        publish = self._nc.publish
        for d in deliveries:
            await publish(d._msg.reply, b"")

    async def pending(self) -> int:
        """Messages on the stream this consumer has not yet been delivered."""
        info = await self._js.consumer_info(self._stream, self.durable)
        return int(info.num_pending)

    async def close(self) -> None:
        """Stop fetching (the durable consumer and its position stay on the server)."""
        if self._sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._sub.unsubscribe()

    async def _pull(self, request: dict[str, Any], want: int, wait_s: float) -> None:
        """Send one pull request and wait until `want` messages or its end status came."""
        self._current = str(next(self._requests))
        self._want = want
        self._wake.clear()
        try:
            await self._nc.publish(
                self._next, json.dumps(request).encode(), reply=f"{self._inbox}.{self._current}"
            )
            await asyncio.wait_for(self._wake.wait(), wait_s)
        except (TimeoutError, nats.errors.Error):
            pass  # nothing came (or the server is away): the fetch returns what there is
        finally:
            self._current = ""

    async def _deliveries(self, limit: int) -> list[Delivery[M]]:
        out: list[Delivery[M]] = []
        got, kind = self._got, self.kind
        while got and len(out) < limit:
            msg = got.popleft()
            try:
                if not msg.data:
                    raise MessageError(_empty_reason(msg), b"")
                out.append(Delivery(decode(msg.data, kind), msg))
            except MessageError as e:
                await self._reject(msg, e)
        return out

    async def _on_msg(self, msg: Any) -> None:
        # Only a stream message carries a `$JS.ACK` reply. One with an empty body and a
        # forged `Status: 408` header is still a stream message (taken for a status, it was
        # never acked and held the ack floor back for good), and so becomes a dead letter.
        if not (msg.reply or "").startswith("$JS.ACK."):
            self._on_status(msg)
            return
        # Messages keep their stream subject, so they cannot be told apart by request: any
        # one counts for the fetch waiting now.
        self._got.append(msg)
        if self._current and len(self._got) >= self._want:
            self._wake.set()

    def _on_status(self, msg: Any) -> None:
        """A server status on a pull request's reply subject (`<inbox>.<request>`): 404 no
        messages, 408 request expired, 409 limits or consumer gone end the request; 100 is an
        idle heartbeat. One of an earlier request means nothing now, nor does anything else
        sent straight to our inbox (no stream holds it, no one can ack it)."""
        status = (msg.headers or {}).get("Status")
        token = msg.subject[len(self._inbox) + 1 :]
        if status is not None and status != "100" and token == self._current:
            self._wake.set()

    async def _reject(self, msg: Any, error: MessageError) -> None:
        seq = int(msg.metadata.sequence.stream)
        try:
            await dead_letter(
                self._js,
                self._names,
                self._stream,
                seq,
                msg.subject,
                self.durable,
                error,
                int(self._nc.max_payload),
            )
            await msg.term()
        except (nats.errors.Error, nats.js.errors.Error) as e:
            # Never the consumer's death: the message stays un-acked and comes back later.
            log.error(
                "could not dead-letter %s seq %d, retrying after ack_wait: %s", self._stream, seq, e
            )
            return
        self.dead_lettered += 1


def _empty_reason(msg: Any) -> str:
    headers = msg.headers or {}
    if "Status" in headers:
        return (
            f"an empty message with a 'Status: {headers['Status']}' header, stored on the stream "
            "(a server status reply is never stored: a publisher forged it)"
        )
    return "an empty message: no bytes to read"


_HEADROOM = 1024
"""Bytes kept free under max_payload for the letter's headers (the server counts them)."""
_MAX_REASON = 4000
"""Characters of the reason kept in a letter."""


async def dead_letter(
    js: Any,
    names: RunNames,
    stream: str,
    seq: int,
    subject: str,
    consumer: str,
    error: MessageError,
    max_payload: int,
) -> DeadLetter:
    """Publish the DeadLetter of a bad message (once: its id is derived from stream and seq).

    The letter always fits `max_payload` (the server's): the original bytes are cut as much as
    needed, `truncated` says so and `original_size` keeps the full length. A letter that does
    not fit is refused by the client, and that refusal crashed the trainer and stopped the
    followers, once per message just under the limit."""
    data = error.data
    letter = DeadLetter(
        id=f"{stream}-{seq}",
        subject=subject,
        consumer=consumer,
        error=error.reason[:_MAX_REASON],
        data=data,
        original_size=len(data),
    )
    payload = encode(letter)
    excess = len(payload) + _HEADROOM - max_payload
    if excess > 0:
        # A shorter bin field never has a longer msgpack header, so one cut is enough.
        cut = data[: max(0, len(data) - excess)]
        letter = letter.model_copy(update={"data": cut, "truncated": True})
        payload = encode(letter)
    log.warning(
        "dead letter from %s seq %d (%s): %s%s",
        stream,
        seq,
        consumer,
        error.reason,
        f" (original {len(data)} bytes, kept {len(letter.data)})" if letter.truncated else "",
    )
    await js.publish(names.dead_subject, payload, headers={"Nats-Msg-Id": letter.id})
    return letter
