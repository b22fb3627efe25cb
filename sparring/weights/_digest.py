"""Digests of weights, and the identity of this machine.

The digest of record is xxh3-128 of the safetensors bytes ("xxh3_128:<hex>"): it checks that
a worker serves exactly what the trainer published (no torn file, no wrong blob) at ~10 GB/s,
where SHA-256 runs at ~1 GB/s here and would cost a 0.6B model more than its load. It is not a
defence against an attacker: the bus is, with its credentials. Records written before schema 7
carry only a SHA-256, which is checked instead.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import socket
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import xxhash

from sparring.messages import PolicyVersion

__all__ = ["Hasher", "digest_of", "file_digest_matches", "host_id"]

_ALGO = "xxh3_128"


def digest_of(data: bytes | bytearray | memoryview | mmap.mmap) -> str:
    """The digest of record of `data`."""
    return f"{_ALGO}:{xxhash.xxh3_128(data).hexdigest()}"


class Hasher:
    """Incremental check of bytes against what `pv` announced (digest, else SHA-256)."""

    def __init__(self, pv: PolicyVersion) -> None:
        self.expected, self._h, self._fmt = _expected(pv)

    def update(self, data: bytes | bytearray | memoryview | mmap.mmap) -> None:
        if self._h is not None:
            self._h.update(data)

    def matches(self) -> bool:
        """True when the bytes fed match (or nothing was announced to check against)."""
        return self._h is None or self._fmt(self._h.hexdigest()) == self.expected


def _expected(pv: PolicyVersion) -> tuple[str, Any, Callable[[str], str]]:
    if pv.digest:
        return pv.digest, xxhash.xxh3_128(), lambda h: f"{_ALGO}:{h}"
    if pv.sha256:
        return pv.sha256, hashlib.sha256(), lambda h: h
    return "", None, lambda h: h


def file_digest_matches(path: Path, pv: PolicyVersion) -> bool:
    """Whether the file at `path` holds exactly the bytes `pv` announced (memory-mapped, so
    the pages read stay in the page cache for the load that follows). False if it is gone."""
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size != pv.size_bytes and pv.size_bytes:
                return False
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                h = Hasher(pv)
                h.update(mm)
                return h.matches()
    except (OSError, ValueError):  # gone, unreadable, or empty (mmap of 0 bytes)
        return False


@cache
def host_id() -> str:
    """This machine: its host name and boot id (two containers of one host share the boot id
    and, where they share the file, /dev/shm or a run folder, read each other's files; a file
    that is not there after all is detected, and the bus copy used)."""
    boot = ""
    for source in ("/proc/sys/kernel/random/boot_id", "/etc/machine-id"):
        try:
            boot = Path(source).read_text().strip()
            break
        except OSError:
            continue
    return f"{socket.gethostname()}/{boot}"
