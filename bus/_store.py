"""The run's KV bucket (the current policy version) and Object Store (weights).

Weights are written and read in chunks of `object_chunk_bytes` (capped below the server's
max_payload) by `_objects.py`, pipelined and streamed (nats-py's own put and get run at a third
of the speed, see there). The policy version is one KV key whose watchers see every update.

Writing weights and the policy version is tried again while the server is away (a put that
timed out or found no JetStream, up to `_ATTEMPTS` tries, `_RETRY_WAIT_S` apart): both are
safe to repeat (a failed put removes its chunks, a new put replaces the object, the key holds
the newest value), and a restarted nats-server is back within seconds. Without it the trainer
died of the first put after a server restart and had to be restarted too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats.errors
import nats.js.errors
from nats.js import api
from pydantic import BaseModel, ConfigDict, Field

from sparring.bus._codec import decode, encode
from sparring.bus._names import POLICY_KEY, RunNames
from sparring.bus._objects import chunk_size, put_chunked, read_chunked
from sparring.bus.config import BusConfig
from sparring.bus.errors import BusError, ObjectNotFoundError, PublishError, SetupError
from sparring.errors import MessageError
from sparring.messages import PolicyVersion

__all__ = ["ObjectInfo", "Store"]

log = logging.getLogger(__name__)

_ATTEMPTS = 4
_RETRY_WAIT_S = 1.0
_SERVER_AWAY = (nats.errors.TimeoutError, nats.errors.NoRespondersError)
"""What a write meets while the server restarts: an ack that never came, no JetStream yet."""


async def _while_server_away(what: str, write: Callable[[], Awaitable[object]]) -> None:
    """`write()`, tried again while the server is away (see the module docstring)."""
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            await write()
            return
        except _SERVER_AWAY as e:
            if attempt == _ATTEMPTS:
                raise
            log.warning("%s: %s; trying again in %.0f s", what, type(e).__name__, _RETRY_WAIT_S)
            await asyncio.sleep(_RETRY_WAIT_S)


class ObjectInfo(BaseModel):
    """What the Object Store holds under a name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Object name within the run's weights bucket.")
    size: int = Field(ge=0, description="Size in bytes.")
    sha256: str = Field(description="Hex SHA-256 of the bytes.")


class Store:
    """KV and Object Store of one run."""

    def __init__(self, js: Any, names: RunNames, config: BusConfig) -> None:
        self._js = js
        self._names = names
        self._config = config
        self._kv: Any = None
        self._obs: Any = None

    async def setup(self) -> None:
        n, c = self._names, self._config
        try:
            self._kv = await self._js.create_key_value(
                bucket=n.policy_bucket,
                history=8,
                storage=api.StorageType.FILE,
                replicas=c.replicas,
            )
            self._obs = await self._js.create_object_store(
                bucket=n.weights_bucket, storage=api.StorageType.FILE, replicas=c.replicas
            )
        except (nats.errors.Error, nats.js.errors.Error) as e:
            raise SetupError(f"the KV and Object Store of run {n.run!r}", str(e)) from e

    async def destroy(self) -> None:
        for delete, bucket in (
            (self._js.delete_key_value, self._names.policy_bucket),
            (self._js.delete_object_store, self._names.weights_bucket),
        ):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await delete(bucket)

    async def put_object(self, name: str, data: bytes | memoryview) -> ObjectInfo:
        # A chunk is one JetStream message: it must fit the server's max_payload with headers.
        chunk = chunk_size(self._config.object_chunk_bytes, int(self._js._nc.max_payload))
        bucket = self._names.weights_bucket
        digest: list[str] = []

        async def put() -> None:
            digest[:] = [await put_chunked(self._js, bucket, name, data, chunk)]

        try:
            await _while_server_away(f"storing {name!r}", put)
        except (nats.errors.Error, nats.js.errors.Error) as e:
            raise PublishError(f"object {name!r}", str(e) or type(e).__name__) from e
        return ObjectInfo(name=name, size=len(memoryview(data).cast("B")), sha256=digest[0])

    async def get_object(self, name: str) -> bytes:
        parts: list[bytes] = []
        await self.read_object(name, parts.append)
        return b"".join(parts)

    async def read_object(self, name: str, sink: Callable[[bytes], object]) -> int:
        """Hand the chunks of `name` to `sink` in order (in a thread); returns the size."""
        try:
            meta = await read_chunked(self._js, self._names.weights_bucket, name, sink)
        except (nats.errors.Error, nats.js.errors.Error) as e:
            raise BusError(f"could not read object {name!r}: {type(e).__name__}: {e}") from e
        if meta is None:
            raise ObjectNotFoundError(name, self._names.weights_bucket)
        return meta.size

    async def delete_object(self, name: str) -> bool:
        """Delete `name`; False if there was no such object."""
        try:
            await self._obs.delete(name)
        except (nats.js.errors.ObjectNotFoundError, nats.js.errors.NotFoundError):
            return False
        except (nats.errors.Error, nats.js.errors.Error) as e:
            raise PublishError(f"deleting object {name!r}", str(e) or type(e).__name__) from e
        return True

    async def set_policy(self, pv: PolicyVersion) -> None:
        try:
            await _while_server_away(
                "announcing the policy", lambda: self._kv.put(POLICY_KEY, encode(pv))
            )
        except (nats.errors.Error, nats.js.errors.Error) as e:
            raise PublishError(f"policy key {POLICY_KEY!r}", str(e) or type(e).__name__) from e

    async def get_policy(self) -> PolicyVersion | None:
        try:
            entry = await self._kv.get(POLICY_KEY)
        except nats.js.errors.KeyNotFoundError:
            return None
        except (nats.errors.Error, nats.js.errors.Error) as e:  # a raw TimeoutError ended runs
            raise BusError(f"could not read the policy version: {type(e).__name__}: {e}") from e
        return self._read(entry)

    async def watch_policy(self) -> AsyncIterator[PolicyVersion]:
        watcher = await self._kv.watch(POLICY_KEY)
        try:
            async for entry in watcher:
                if entry is None:  # end of the initial values: nothing more to replay
                    continue
                pv = self._read(entry)
                if pv is not None:
                    yield pv
        finally:
            await watcher.stop()

    def _read(self, entry: Any) -> PolicyVersion | None:
        if entry.value is None or entry.operation is not None:
            return None  # a delete or purge marker
        try:
            return decode(entry.value, PolicyVersion)
        except MessageError as e:
            log.warning("ignoring an unreadable policy version in the KV: %s", e.reason)
            return None
