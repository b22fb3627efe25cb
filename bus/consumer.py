"""Consumer and Delivery: typed messages from a durable pull consumer, acked when the caller says.

    consumer = await bus.consumer(Sample, durable="trainer")
    for d in await consumer.fetch(max_messages=256, timeout=1.0):
        train_on(d.message)
        await d.ack()              # or d.nak(delay=...), d.in_progress() to extend ack_wait

A message not acked within `ack_wait_s` is delivered again (`num_delivered` counts the tries).
A message that cannot be read (not msgpack, wrong shape, unknown kind, newer schema, a kind that
does not belong on the stream) is never returned: it is published as a `DeadLetter` with the
reason, the subject, the consumer and the original bytes, then terminated on its own stream, and
the fetch carries on.
"""

from __future__ import annotations

import logging
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

_NO_MESSAGES = (TimeoutError, nats.errors.TimeoutError, nats.js.errors.FetchTimeoutError)


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
    """A durable pull consumer of one message kind on one run's stream."""

    def __init__(
        self, kind: type[M], durable: str, psub: Any, js: Any, names: RunNames, stream: str
    ) -> None:
        self.kind = kind
        self.durable = durable
        self._psub = psub
        self._js = js
        self._names = names
        self._stream = stream

    # The timeout is the pull request's expiry on the server, not a local timer (ASYNC109).
    async def fetch(
        self,
        max_messages: int = 256,
        timeout: float = 1.0,  # noqa: ASYNC109
    ) -> list[Delivery[M]]:
        """Up to `max_messages` messages, waiting at most `timeout` s for the first; [] if none."""
        try:
            msgs = await self._psub.fetch(max_messages, timeout=timeout)
        except _NO_MESSAGES:
            return []
        out: list[Delivery[M]] = []
        kind = self.kind
        for msg in msgs:
            try:
                out.append(Delivery(decode(msg.data, kind), msg))
            except MessageError as e:
                await self._reject(msg, e)
        return out

    async def ack_many(self, deliveries: Sequence[Delivery[M]]) -> None:
        """Ack a batch at once (the trainer acks a whole step after its checkpoint)."""
        for d in deliveries:
            await d.ack()

    async def pending(self) -> int:
        """Messages on the stream this consumer has not yet been delivered."""
        info = await self._psub.consumer_info()
        return int(info.num_pending)

    async def close(self) -> None:
        """Stop fetching (the durable consumer and its position stay on the server)."""
        await self._psub.unsubscribe()

    async def _reject(self, msg: Any, error: MessageError) -> None:
        seq = int(msg.metadata.sequence.stream)
        await dead_letter(
            self._js, self._names, self._stream, seq, msg.subject, self.durable, error
        )
        await msg.term()


async def dead_letter(
    js: Any,
    names: RunNames,
    stream: str,
    seq: int,
    subject: str,
    consumer: str,
    error: MessageError,
) -> None:
    """Publish the DeadLetter of a bad message (once: its id is derived from stream and seq)."""
    log.warning("dead letter from %s seq %d (%s): %s", stream, seq, consumer, error.reason)
    letter = DeadLetter(
        id=f"{stream}-{seq}",
        subject=subject,
        consumer=consumer,
        error=error.reason,
        data=error.data,
    )
    await js.publish(names.dead_subject, encode(letter), headers={"Nats-Msg-Id": letter.id})
