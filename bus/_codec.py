"""The one codec of the bus: msgpack of `model.model_dump()`.

Packed arrays dump to the `bytes` they hold and travel as msgpack bin; decoding keeps the `bytes`
msgpack returns, so a 1k-token Sample encodes in a few microseconds (bench/codec.py compares it
with JSON). The kinds it reads are those of `sparring.messages.MESSAGES`; it keeps no list.

`decode` is strict: bytes that are not msgpack, a map of the wrong shape, an unknown kind, a newer
schema_version, or a kind that does not belong where it was read all raise `MessageError` with
the reason and the original bytes, and the consumer turns that into a dead letter.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgpack
from pydantic import BaseModel, ValidationError

from sparring.errors import MessageError
from sparring.messages import MESSAGES

__all__ = ["decode", "encode"]

M = TypeVar("M", bound=BaseModel)

_packb = msgpack.Packer(use_bin_type=True).pack


def encode(msg: BaseModel) -> bytes:
    """The wire bytes of a message."""
    return _packb(msg.model_dump())


def decode(data: bytes, expected: type[M]) -> M:
    """Read `data` as a message of class `expected`; MessageError says why it cannot be."""
    try:
        obj: Any = msgpack.unpackb(data, raw=False)
    except Exception as e:  # msgpack raises several unrelated types for malformed input
        raise MessageError(f"not msgpack: {type(e).__name__}: {e}", data) from e
    if not isinstance(obj, dict):
        raise MessageError(f"not a message: a msgpack {type(obj).__name__}, not a map", data)
    kind = obj.get("kind")
    cls = MESSAGES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise MessageError(f"unknown message kind {kind!r}", data)
    if cls is not expected:
        want = expected.model_fields["kind"].default
        raise MessageError(f"a {kind!r} message where only {want!r} belongs", data)
    try:
        return expected.model_validate(obj)
    except ValidationError as e:
        raise MessageError(f"invalid {kind}: {_short(e)}", data) from e


def _short(e: ValidationError) -> str:
    """A one-paragraph validation error (pydantic's own text, without the docs links)."""
    parts = []
    for err in e.errors(include_url=False)[:5]:
        loc = ".".join(str(x) for x in err["loc"]) or "message"
        parts.append(f"{loc}: {err['msg']}")
    more = f" (+{e.error_count() - 5} more)" if e.error_count() > 5 else ""
    return "; ".join(parts) + more
