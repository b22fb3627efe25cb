"""Large objects (weights) in the run's Object Store, written and read at the wire's speed.

The layout is the NATS Object Store's own (chunks on `$O.<bucket>.C.<nuid>`, then one meta
message with the size, chunk count and SHA-256 on `$O.<bucket>.M.<name>`), so `nats object get`
and nats-py's `ObjectStore.get` read what we write. What differs is how, measured on loopback
with a 256 MB object (2 shared cores):

- nats-py's `put` copies each chunk, hashes it on the event loop and waits for each chunk's ack
  before sending the next (100-150 MB/s). We send memoryview slices (no copy), keep
  `_WINDOW` chunks in flight, and hash in a thread beside the sends (hashlib drops the GIL).
- nats-py's `get` reads through an ordered push consumer whose flow control stalls on big
  chunks (70-90 MB/s). We read chunk after chunk with direct gets (`next_by_subj`), about
  270 MB/s, and hand each chunk to a sink as it comes: the caller writes it where it will be
  loaded from (a file the model memory-maps), so the object is never held twice.

A chunk must fit the server's max_payload with its headers, and JetStream refuses a stored
message over ~24 MiB whatever max_payload says (32 MiB: "message too large"), hence
`MAX_CHUNK`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import nats.errors
import nats.js.errors
from nats.js import api

__all__ = ["MAX_CHUNK", "ObjectMeta", "chunk_size", "put_chunked", "read_chunked"]

MiB = 1024 * 1024
MAX_CHUNK = 16 * MiB
"""Largest chunk we write: below JetStream's per-message limit, and the measured sweet spot."""

_WINDOW = 2
"""Chunks in flight on a put: more made no difference on loopback and costs server memory."""


class ObjectMeta:
    """What the meta message of an object says (the parts we read)."""

    def __init__(self, name: str, nuid: str, size: int, chunks: int, digest: str) -> None:
        self.name, self.nuid, self.size, self.chunks, self.digest = name, nuid, size, chunks, digest


def chunk_size(configured: int, max_payload: int) -> int:
    """The chunk size to write: the configured one, capped by max_payload and `MAX_CHUNK`."""
    return max(1024, min(configured, max_payload - 16 * 1024, MAX_CHUNK))


def _meta_subject(bucket: str, name: str) -> str:
    return f"$O.{bucket}.M.{base64.urlsafe_b64encode(name.encode()).decode()}"


async def put_chunked(js: Any, bucket: str, name: str, data: bytes | memoryview, chunk: int) -> str:
    """Store `data` as object `name`; returns its hex SHA-256. A failed put purges its chunks;
    an older object of the same name is replaced (its chunks purged once the new meta is in)."""
    stream = f"OBJ_{bucket}"
    nuid = js._nc._nuid.next().decode()
    subject = f"$O.{bucket}.C.{nuid}"
    view = memoryview(data).cast("B")
    previous = await _meta(js, bucket, name)
    hashing = asyncio.ensure_future(asyncio.to_thread(_sha256, view))
    sent = 0
    try:
        pending: list[asyncio.Future[Any]] = []
        for start in range(0, len(view), chunk):
            pending.append(await js.publish_async(subject, view[start : start + chunk]))
            sent += 1
            if len(pending) >= _WINDOW:
                await pending.pop(0)
        await asyncio.gather(*pending)
        digest = await hashing
        info = api.ObjectInfo(
            name=name,
            bucket=bucket,
            nuid=nuid,
            size=len(view),
            chunks=sent,
            mtime=datetime.now(UTC).isoformat(),
            digest="SHA-256=" + base64.urlsafe_b64encode(digest).decode(),
            options=api.ObjectMetaOptions(max_chunk_size=chunk),
        )
        await js.publish(
            _meta_subject(bucket, name),
            json.dumps(info.as_dict()).encode(),
            headers={api.Header.ROLLUP: "sub"},
        )
    except BaseException:
        hashing.cancel()
        await _purge_quietly(js, stream, subject)
        raise
    if previous is not None and previous.nuid != nuid:
        await _purge_quietly(js, stream, f"$O.{bucket}.C.{previous.nuid}")
    return digest.hex()


def _sha256(view: memoryview) -> bytes:
    h = hashlib.sha256()
    for start in range(0, len(view), 64 * MiB):
        h.update(view[start : start + 64 * MiB])
    return h.digest()


async def _purge_quietly(js: Any, stream: str, subject: str) -> None:
    # The server may be away: orphaned chunks are then purged when the object is deleted.
    with contextlib.suppress(nats.errors.Error, nats.js.errors.Error):
        await js.purge_stream(stream, subject=subject)


async def _meta(js: Any, bucket: str, name: str) -> ObjectMeta | None:
    """The meta of object `name`, or None when there is none (or it was deleted)."""
    try:
        msg = await js.get_msg(f"OBJ_{bucket}", subject=_meta_subject(bucket, name), direct=True)
    except nats.js.errors.NotFoundError:
        return None
    if not msg.data:
        return None
    info = json.loads(msg.data)
    if info.get("deleted"):
        return None
    return ObjectMeta(
        name=name,
        nuid=info["nuid"],
        size=int(info.get("size", 0)),
        chunks=int(info.get("chunks", 0)),
        digest=str(info.get("digest", "")),
    )


async def read_chunked(
    js: Any, bucket: str, name: str, sink: Callable[[bytes], object]
) -> ObjectMeta | None:
    """Hand each chunk of object `name` to `sink`, in order; None if there is no such object.

    Chunks are read one after the other by stream sequence (direct get of the next message on
    the object's chunk subject). The Object Store's own SHA-256 is not checked here: callers
    verify the digest the policy version announced, over the bytes they will load."""
    meta = await _meta(js, bucket, name)
    if meta is None:
        return None
    stream, subject, seq, got = f"OBJ_{bucket}", f"$O.{bucket}.C.{meta.nuid}", 1, 0
    for _ in range(meta.chunks):
        msg = await js.get_msg(stream, seq=seq, subject=subject, direct=True, next=True)
        data = msg.data or b""
        await asyncio.to_thread(sink, data)
        got += len(data)
        seq = int(msg.seq) + 1
    if got != meta.size:
        raise nats.js.errors.Error(f"object {name!r}: read {got} of {meta.size} bytes")
    return meta
