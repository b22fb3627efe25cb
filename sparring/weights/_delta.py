"""The delta between two versions of the same weights: XOR, byte planes, zstd.

    delta = make_delta(old, new)            # None when the layouts differ
    apply_delta(old, delta, file.write)     # writes bytes equal to `new`, or DeltaError

Two safetensors files of one model have the same header (names, dtypes, shapes, offsets), so
their XOR is zero there and, in each weight, zero in the sign, the exponent and the high
mantissa bits that one optimizer step leaves alone (as slime's and others' update compression
relies on). Splitting each tensor's elements into byte planes (byte 0 of every element, then
byte 1, ...; blosc's "shuffle") puts those zeros together, where zstd at level 1 removes them
fast; a plain XOR of interleaved bytes compresses far less. Lossless: the worker's bytes are
the trainer's, and the digest of the result is checked before it is served.

How much it saves depends on the step: many bf16 weights do not move at all under a small
learning rate, while every fp32 weight moves in its low bits. bench/weights.py measures it.
"""

from __future__ import annotations

import io
import json
import mmap
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import zstandard

from sparring.weights.errors import WeightsError

__all__ = ["DeltaError", "apply_delta", "make_delta"]

_MAGIC = b"SPDELTA1"
Buffer = bytes | bytearray | memoryview | mmap.mmap

_ITEMSIZE = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2,
             "I16": 2, "U16": 2}  # fmt: skip
# everything else (U8, I8, BOOL, F8_*): one byte, no planes to split


class DeltaError(WeightsError):
    """A delta does not apply: corrupt, or made against other weights."""


def _layout(data: memoryview) -> tuple[int, list[tuple[int, int, int]]]:
    """(start of the data section, [(offset, length, itemsize)] per tensor, by offset)."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(bytes(data[8 : 8 + n]))
    start = 8 + n
    regions = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        regions.append((start + lo, hi - lo, _ITEMSIZE.get(info["dtype"], 1)))
    return start, sorted(regions)


class _Scratch:
    """Two reused buffers as large as the largest tensor: touching fresh memory costs more
    than the arithmetic here (a new 128 MB array took 0.5 s, a reused one 0.03 s)."""

    def __init__(self, size: int) -> None:
        self.x: Any = np.empty(size, np.uint8)
        self.y: Any = np.empty(size, np.uint8)

    def planes(self, x: np.ndarray, itemsize: int, inverse: bool = False) -> np.ndarray:
        """x split into byte planes (or, inverse, planes put back together), in self.y."""
        if itemsize == 1 or x.size % itemsize:
            return x
        out = self.y[: x.size]
        n = x.size // itemsize
        if not inverse:  # elements (n, itemsize) -> planes (itemsize, n): a strided read
            out.reshape(itemsize, n)[...] = x.reshape(n, itemsize).T
            return out
        # planes -> elements: a strided write runs at ~400 MB/s, shifts and ors at GB/s
        wide = {2: np.uint16, 4: np.uint32, 8: np.uint64}[itemsize]
        w: Any = out.view(wide)
        w[...] = x[:n]
        for k in range(1, itemsize):
            np.bitwise_or(w, np.left_shift(x[k * n : (k + 1) * n], 8 * k, dtype=wide), out=w)
        return out


def _pieces(
    total: int, start: int, regions: list[tuple[int, int, int]]
) -> list[tuple[int, int, int]]:
    """Every byte of the file exactly once: the header, each tensor, and any gap between."""
    out, pos = [(0, start, 1)], start
    for offset, length, itemsize in regions:
        if offset > pos:
            out.append((pos, offset - pos, 1))
        out.append((offset, length, itemsize))
        pos = offset + length
    if pos < total:
        out.append((pos, total - pos, 1))
    return out


def make_delta(old: Buffer, new: Buffer, level: int = 1) -> bytes | None:
    """The compressed delta taking `old` to `new`, or None when they are not two versions of
    the same layout (other sizes or another header)."""
    a, b = memoryview(old).cast("B"), memoryview(new).cast("B")
    if len(a) != len(b) or len(a) < 8 or a[:8] != b[:8]:
        return None
    start, regions = _layout(b)
    if a[:start] != b[:start]:
        return None
    pieces = _pieces(len(b), start, regions)
    scratch = _Scratch(max(length for _, length, _ in pieces))
    out = io.BytesIO()
    out.write(_MAGIC)
    cctx = zstandard.ZstdCompressor(level=level, threads=-1)
    with cctx.stream_writer(out, closefd=False, size=len(b)) as w:
        for offset, length, itemsize in pieces:
            x = scratch.x[:length]
            np.bitwise_xor(_u8(a, offset, length), _u8(b, offset, length), out=x)
            w.write(scratch.planes(x, itemsize).data)
    return out.getvalue()


def apply_delta(old: Buffer, delta: Buffer, sink: Callable[[memoryview], object]) -> int:
    """Hand `sink` the bytes of `old` with `delta` applied (the new version), piece by piece
    and in order; returns how many. DeltaError if the delta does not fit `old`."""
    a, d = memoryview(old).cast("B"), memoryview(delta).cast("B")
    if d[: len(_MAGIC)] != _MAGIC:
        raise DeltaError("not a sparring weights delta")
    try:
        start, regions = _layout(a)
        pieces = _pieces(len(a), start, regions)
        scratch = _Scratch(max(length for _, length, _ in pieces))
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(d[len(_MAGIC) :]))
        for offset, length, itemsize in pieces:
            x = scratch.x[:length]
            _read_into(reader, x)
            y = scratch.planes(x, itemsize, inverse=True)
            np.bitwise_xor(y, _u8(a, offset, length), out=y)
            sink(y.data)
        if reader.read(1):
            raise DeltaError("the delta is longer than the weights it applies to")
    except (zstandard.ZstdError, ValueError, KeyError, struct.error) as e:
        raise DeltaError(f"the delta does not apply: {e}") from e
    return len(a)


def _u8(view: memoryview, offset: int, length: int) -> np.ndarray:
    return np.frombuffer(view, np.uint8, length, offset)


def _read_into(reader: zstandard.ZstdDecompressionReader, out: np.ndarray) -> None:
    view, got = memoryview(out.data).cast("B"), 0
    while got < len(view):
        n = reader.readinto(view[got:])
        if not n:
            raise DeltaError(f"the delta ended {len(view) - got} bytes early")
        got += n
