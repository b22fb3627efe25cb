"""Bus: one run's typed view of NATS JetStream.

    bus = await Bus.connect(url, run="myrun", config=BusConfig(), name="trainer")
    await bus.publish_many(samples)                       # pipelined, returns once all are stored
    consumer = await bus.consumer(Sample, durable="trainer")
    async for ep in bus.follow(Episode): ...              # replay, then live
    await bus.set_policy(pv); info = await bus.put_object("weights-3", data)

`connect` creates the run's streams, KV bucket and Object Store if they are missing (so every
process may call it). Messages are published with `Nats-Msg-Id` = `msg.id`, so a retried publish
is stored once. Subjects, headers and bytes stay inside this package.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.js import api
from pydantic import BaseModel

from sparring.bus import _store
from sparring.bus._codec import decode, encode
from sparring.bus._connect import connect_options
from sparring.bus._names import ROUTES, RunNames, check_token, route_of
from sparring.bus._publisher import Publisher
from sparring.bus.config import BusConfig
from sparring.bus.consumer import Consumer, dead_letter
from sparring.bus.errors import BusError, ConnectError, SetupError
from sparring.errors import MessageError
from sparring.messages import DeadLetter, Message, PolicyVersion, Task

__all__ = ["Bus", "ObjectInfo"]

ObjectInfo = _store.ObjectInfo

M = TypeVar("M", bound=BaseModel)

log = logging.getLogger(__name__)


class Bus:
    """A connection to NATS scoped to one run: publish, consume, follow, weights, policy."""

    def __init__(self, nc: Any, run: str, config: BusConfig, name: str) -> None:
        self._nc = nc
        self._js = nc.jetstream(timeout=config.publish_timeout_s)
        self.names = RunNames(run)
        self.config = config
        self.name = name
        self.store = _store.Store(self._js, self.names, config)
        self._publisher = Publisher(nc, config.publish_timeout_s, config.publish_window)

    @property
    def run(self) -> str:
        return self.names.run

    @property
    def connected(self) -> bool:
        """Whether the connection to NATS is up now (False while reconnecting)."""
        return bool(self._nc.is_connected)

    @classmethod
    async def connect(
        cls,
        url: str | None = None,
        run: str = "default",
        config: BusConfig | None = None,
        name: str = "sparring",
    ) -> Bus:
        """Connect and make sure the run's streams and buckets exist (idempotent)."""
        config = config or BusConfig()
        names = RunNames(run)  # a bad run name fails here, before any network
        url = url or config.url
        nc = await _connect(url, config, name)
        bus = cls(nc, names.run, config, name)
        try:
            await bus._setup()
            await bus._publisher.start()
        except BaseException:
            await nc.close()
            raise
        return bus

    async def close(self) -> None:
        """Send what is buffered (acks included) and disconnect; un-acked messages are
        delivered again to the next consumer after ack_wait."""
        if self._nc.is_closed:
            return
        # Not drain(): it waits out open pull requests (up to 30 s) for nothing we need.
        if self._nc.is_connected:
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await self._nc.flush(timeout=2)
        # A server that is already gone must not turn a clean shutdown into a traceback.
        with contextlib.suppress(ConnectionError, nats.errors.Error):
            await self._nc.close()

    async def destroy(self) -> None:
        """Delete this run's streams, KV bucket and Object Store, with everything in them."""
        for route in ROUTES.values():
            if route.stream is not None:
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    await self._js.delete_stream(self.names.stream(route.stream))
        await self.store.destroy()

    async def __aenter__(self) -> Bus:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- publishing -----------------------------------------------------------------------

    async def publish(self, msg: Message) -> None:
        """Store one message and wait for JetStream's ack (a PolicyVersion goes to the KV)."""
        await self.publish_many((msg,))

    async def publish_many(self, msgs: Sequence[Message]) -> None:
        """Store many messages, pipelined; returns when every one is acked (PublishError if
        one is refused or never acked after retries; retrying the call is safe)."""
        subject_of, out = self.names.subject_of, []
        for msg in msgs:
            if isinstance(msg, PolicyVersion):
                await self.set_policy(msg)
            else:
                out.append((subject_of(msg), encode(msg), msg.id))
        try:
            await self._publisher.publish(out)
        except (nats.errors.Error, nats.js.errors.Error) as e:
            raise self._publisher.failure(out[0][0], _reason(e)) from e

    # -- consuming ------------------------------------------------------------------------

    async def consumer(
        self,
        kind: type[M],
        durable: str,
        game: str | None = None,
        role: str | None = None,
    ) -> Consumer[M]:
        """A durable pull consumer of `kind` (Task, Sample, Episode or Metric) on this run.
        Created on first use with this BusConfig's ack_wait/max_deliver; a durable that already
        exists keeps the settings it was created with."""
        stream = self._stream_of(kind)
        check_token("durable consumer name", durable)
        subject = self.names.filter_subject(kind, game, role)
        cfg = api.ConsumerConfig(
            durable_name=durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=self.config.ack_wait_s,
            max_deliver=self.config.max_deliver,
            max_ack_pending=self.config.max_ack_pending,
            filter_subject=subject,
            num_replicas=self.config.replicas,
        )
        try:
            try:
                await self._js.consumer_info(stream, durable)
            except nats.js.errors.NotFoundError:
                await self._js.add_consumer(stream, cfg)
            consumer = Consumer(kind, durable, self._nc, self._js, self.names, stream)
            await consumer.start()
        except (nats.errors.Error, nats.js.errors.Error) as e:
            raise SetupError(f"consumer {durable!r} on {stream}", _reason(e)) from e
        return consumer

    async def backlog(self, kind: type[M], durable: str) -> int | None:
        """Messages of `kind` a durable consumer has not finished with: not yet delivered plus
        delivered and not yet acked. None while that consumer does not exist. Producers use it
        for back-pressure (a worker pauses while the trainer's backlog is long)."""
        stream = self._stream_of(kind)
        try:
            info = await self._js.consumer_info(stream, durable)
        except nats.js.errors.NotFoundError:
            return None
        except (nats.errors.Error, nats.js.errors.Error) as e:
            raise BusError(f"could not read consumer {durable!r} on {stream}: {_reason(e)}") from e
        return int(info.num_pending) + int(info.num_ack_pending)

    async def follow(
        self, kind: type[M], from_start: bool = True, game: str | None = None
    ) -> AsyncIterator[M]:
        """Every message of `kind` (Sample, Episode, Metric, DeadLetter): the stored ones first
        when `from_start`, then each new one as it arrives. Nothing is acked or consumed."""
        stream = self._stream_of(kind)
        if kind is Task:
            raise BusError("tasks are a work queue: take them with bus.consumer(Task, ...)")
        subject = self.names.filter_subject(kind, game)
        policy = api.DeliverPolicy.ALL if from_start else api.DeliverPolicy.NEW
        sub = await self._js.subscribe(
            subject,
            stream=stream,
            ordered_consumer=True,
            # Missed heartbeats are how an ordered consumer notices a restarted server: at
            # nats-py's default of 5 s a live viewer sat ~20 s before following again.
            idle_heartbeat=1.0,
            deliver_policy=policy,
            pending_msgs_limit=-1,
            pending_bytes_limit=-1,
        )
        try:
            while True:
                msg = await sub.next_msg(timeout=None)
                try:
                    yield decode(msg.data, kind)
                except MessageError as e:
                    await self._dead_letter(stream, msg, e)
        finally:
            await sub.unsubscribe()

    async def _dead_letter(self, stream: str, msg: Any, error: MessageError) -> None:
        """A follower's dead letter; one it cannot store is logged, never the follower's end."""
        seq = int(msg.metadata.sequence.stream)
        try:
            await dead_letter(
                self._js, self.names, stream, seq, msg.subject, "follow", error, self._max_payload
            )
        except (nats.errors.Error, nats.js.errors.Error) as e:
            log.error("could not dead-letter %s seq %d: %s", stream, seq, _reason(e))

    @property
    def _max_payload(self) -> int:
        return int(self._nc.max_payload)

    async def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter of this run, oldest first."""
        return await self._read_all(DeadLetter)

    # -- weights and policy ---------------------------------------------------------------

    async def put_object(self, name: str, data: bytes | memoryview) -> ObjectInfo:
        """Store `data` under `name` in the run's Object Store (replacing an older one)."""
        return await self.store.put_object(name, data)

    async def get_object(self, name: str) -> bytes:
        """The bytes stored under `name`; ObjectNotFoundError if there is none."""
        return await self.store.get_object(name)

    async def read_object(self, name: str, sink: Callable[[bytes], object]) -> int:
        """Hand the chunks stored under `name` to `sink` in order, as they arrive (called in a
        thread, so it may write to a file); returns the size. ObjectNotFoundError if none."""
        return await self.store.read_object(name, sink)

    async def delete_object(self, name: str) -> bool:
        """Delete the object stored under `name` (old weights); False if there was none."""
        return await self.store.delete_object(name)

    async def set_policy(self, pv: PolicyVersion) -> None:
        """Announce a new policy version (workers watching see it at once)."""
        await self.store.set_policy(pv)

    async def get_policy(self) -> PolicyVersion | None:
        """The current policy version, or None before the first one."""
        return await self.store.get_policy()

    def watch_policy(self) -> AsyncIterator[PolicyVersion]:
        """The current policy version (if any), then each new one."""
        return self.store.watch_policy()

    # -- internals ------------------------------------------------------------------------

    def _stream_of(self, kind: type[BaseModel]) -> str:
        stream = route_of(kind).stream
        if stream is None:
            raise BusError(f"{kind.__name__} is not stored on a stream of the bus")
        return self.names.stream(stream)

    async def _read_all(self, kind: type[M]) -> list[M]:
        stream = self._stream_of(kind)
        info = await self._js.stream_info(stream)
        if info.state.messages == 0:
            return []
        out: list[M] = []
        sub = await self._js.subscribe(
            self.names.filter_subject(kind),
            stream=stream,
            ordered_consumer=True,
        )
        try:
            while True:
                msg = await sub.next_msg(timeout=5.0)
                out.append(decode(msg.data, kind))
                if msg.metadata.num_pending == 0:
                    return out
        finally:
            await sub.unsubscribe()

    async def _setup(self) -> None:
        n, c = self.names, self.config
        for route in ROUTES.values():
            if route.stream is None:
                continue
            limits, queue = api.RetentionPolicy.LIMITS, api.RetentionPolicy.WORK_QUEUE
            cfg = api.StreamConfig(
                name=n.stream(route.stream),
                subjects=[n.stream_subject(route)],
                retention=queue if route.work_queue else limits,
                storage=api.StorageType.FILE,
                num_replicas=c.replicas,
                duplicate_window=c.dedup_window_s,
                max_age=c.max_age_s or None,
            )
            await _ensure_stream(self._js, cfg)
        await self.store.setup()


async def _connect(url: str, config: BusConfig, name: str) -> Any:
    nc = nats.NATS()
    errors: list[BaseException] = []

    async def on_error(e: Exception) -> None:
        # Before the first connection the errors say why it fails (kept for ConnectError);
        # afterwards they are worth a log line, not an exception.
        if nc.is_connected:
            log.warning("NATS: %s", _reason(e))
        else:
            errors[:] = [*errors[-15:], e]

    async def on_disconnect() -> None:
        if not (nc.is_closed or nc.is_draining):
            log.warning("NATS: lost the connection to %s, reconnecting", url)

    opts = connect_options(config, name, url)
    try:
        # nats-py retries the first connect forever when reconnects are unlimited; bound it, so
        # a wrong URL is an error in seconds rather than a hang.
        await asyncio.wait_for(
            nc.connect(
                servers=url.split(","), error_cb=on_error, disconnected_cb=on_disconnect, **opts
            ),
            config.connect_timeout_s + 0.5,
        )
    except (TimeoutError, OSError, nats.errors.Error) as e:
        await nc.close()
        raise ConnectError(url, _reason(_telling(errors) or e)) from e
    return nc


def _telling(errors: list[BaseException]) -> BaseException | None:
    """The error that best says why the first connection failed.

    A server that refuses credentials sends its reason and then closes the socket, so the last
    error is often a bare "connection reset"; the server's own word is the one to show.
    """
    said = [e for e in errors if isinstance(e, nats.errors.Error)]
    return said[-1] if said else (errors[-1] if errors else None)


async def _ensure_stream(js: Any, cfg: api.StreamConfig) -> None:
    try:
        await js.add_stream(cfg)
    except nats.js.errors.BadRequestError as e:
        if e.err_code != 10058:  # an existing stream with another config: keep it as it is
            raise SetupError(f"stream {cfg.name}", _reason(e)) from e
        log.info("stream %s exists with another configuration; using it as it is", cfg.name)
    except (nats.errors.Error, nats.js.errors.Error) as e:
        raise SetupError(f"stream {cfg.name}", _reason(e)) from e


def _reason(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
