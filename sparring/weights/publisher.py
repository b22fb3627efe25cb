"""The trainer's side: publish one version of the weights every way `SyncConfig` asks.

    publisher = WeightsPublisher(bus, config.sync, run_dir, keep_objects=config.keep_weights)
    pv = await publisher.publish(version, step, safetensors_bytes, "full")

Order, so that each worker waits only for its own way:
1. the file, written once and atomically (straight from the tensors when given tensors), and
   the digest (xxh3-128) of its bytes through a memory map;
2. same host: the version is announced with the file alone (`weights` empty): workers on this
   machine load it while the bus copy uploads;
3. bus: a delta from the previous version (kept in memory here), put in the Object Store and
   announced (workers serving that version need nothing more); then the whole weights, and the
   version announced once more with them;
4. old copies removed: same-host files beyond `keep_files` (a worker never needs a file after
   opening it: the kernel keeps an opened file's pages, and the weights are copied into the
   model; a worker that finds one gone loads the newest version instead), objects and deltas
   older than `keep_objects` versions, deltas but the last two.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mmap
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sparring.bus import Bus
from sparring.messages import PolicyVersion
from sparring.weights import _files
from sparring.weights._delta import make_delta
from sparring.weights._digest import digest_of, host_id
from sparring.weights.config import SyncConfig

__all__ = ["WeightsPublisher", "delta_name", "object_name"]

log = logging.getLogger(__name__)


def object_name(version: int) -> str:
    """Object Store name of a version's whole weights."""
    return f"policy-v{version}"


def delta_name(version: int) -> str:
    """Object Store name of the delta taking version - 1 to `version`."""
    return f"policy-v{version}.delta"


@dataclass(frozen=True)
class _Last:
    version: int
    path: Path
    digest: str


class WeightsPublisher:
    """Publishes versions of the weights for one run (see the module docstring)."""

    def __init__(self, bus: Bus, config: SyncConfig, run_dir: Path, keep_objects: int) -> None:
        self._bus = bus
        self._config = config
        self._run_dir = Path(run_dir)
        self._keep_objects = keep_objects
        self._dir: Path | None = None
        self._last: _Last | None = None  # the previous version's file, the delta's base

    @property
    def folder(self) -> Path | None:
        """Where the files go (None until the first publish). Without same_host they are the
        trainer's own spool, never announced: the bus copies are read from them."""
        return self._dir

    async def publish(
        self, version: int, step: int, weights: bytes | Mapping[str, Any],
        format: Literal["full", "lora"] = "full",
    ) -> PolicyVersion:  # fmt: skip
        """Publish `weights` (safetensors bytes, or tensors by name, saved straight to the file
        with `save_file`) as `version`; returns the final announcement."""
        path = await asyncio.to_thread(self._write_file, version, weights)
        with _Mapped(path) as view:
            digest = await asyncio.to_thread(digest_of, view)
            pv = PolicyVersion(
                run=self._bus.run, version=version, step=step, weights="", format=format,
                size_bytes=len(view), digest=digest,
            )  # fmt: skip
            if self._config.same_host:
                pv = pv.model_copy(update={"host": host_id(), "file": str(path)})
                if self._config.bus:  # workers here need not wait for the upload
                    await self._bus.set_policy(pv)
            if self._config.bus:
                pv = await self._put(pv, view)
        await self._bus.set_policy(pv)
        self._last = _Last(version, path, digest)
        await self._prune(version)
        return pv

    def _write_file(self, version: int, weights: bytes | Mapping[str, Any]) -> Path:
        if self._dir is None:
            size = len(weights) if isinstance(weights, bytes) else _nbytes(weights)
            copies = self._config.keep_files + 1
            setting = self._config.dir if self._config.same_host else "auto"
            self._dir = _files.choose_dir(setting, self._run_dir, self._bus.run, size, copies)
            log.info("weights files in %s", self._dir)
        name = _files.file_name(version)
        if isinstance(weights, bytes):
            return _files.write_atomic(self._dir, name, [weights])
        from safetensors.torch import save_file

        # Straight from the tensors to the file: no copy of the whole in this process's memory
        # (fresh memory cost more than the write: 237 MB of bytes first made it 5x slower).
        return _files.save_atomic(self._dir, name, lambda tmp: save_file(dict(weights), tmp))

    async def _put(self, pv: PolicyVersion, view: memoryview) -> PolicyVersion:
        last = self._last
        if self._config.delta and last is not None and last.version == pv.version - 1:
            delta = await asyncio.to_thread(_delta_from, last.path, view)
            if delta is not None and len(delta) <= self._config.delta_max_ratio * len(view):
                stored = await self._bus.put_object(delta_name(pv.version), delta)
                pv = pv.model_copy(update={"delta": stored.name, "delta_base": last.digest,
                                           "delta_bytes": stored.size})  # fmt: skip
                await self._bus.set_policy(pv)  # workers one version behind need no more
        info = await self._bus.put_object(object_name(pv.version), view)
        return pv.model_copy(update={"weights": info.name, "sha256": info.sha256})

    async def _prune(self, version: int) -> None:
        if self._dir is not None:  # the newest stays: the next delta's base
            keep = self._config.keep_files if self._config.same_host else 1
            await asyncio.to_thread(_files.prune, self._dir, keep)
        old = version - self._keep_objects
        if old >= 1:
            await self._bus.delete_object(object_name(old))
        if version >= 3:  # a delta serves only a worker on the version just before it
            await self._bus.delete_object(delta_name(version - 2))

    def close(self) -> None:
        """Remove the files if they are in RAM (/dev/shm) or a private spool; a run folder
        keeps its same-host files."""
        spool = self._dir is not None and not self._config.same_host
        if self._dir is not None and (spool or self._dir.parent == _files.SHM):
            with contextlib.suppress(OSError):
                shutil.rmtree(self._dir)


def _nbytes(state: Mapping[str, Any]) -> int:
    return sum(int(t.numel()) * int(t.element_size()) for t in state.values())


def _delta_from(base: Path, new: memoryview) -> bytes | None:
    try:
        mapped = _Mapped(base)
        old = mapped.__enter__()
    except OSError:
        return None  # the base file is gone: no delta this time
    try:
        return make_delta(old, new)
    finally:
        del old
        mapped.__exit__()


class _Mapped:
    """A file's bytes, memory-mapped read-only, as a memoryview while in the block."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def __enter__(self) -> memoryview:
        with open(self._path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self._view = memoryview(self._map)
        return self._view

    def __exit__(self, *exc: object) -> None:
        # A view still held elsewhere (a send buffer) keeps the map open until it is dropped.
        with contextlib.suppress(BufferError):
            self._view.release()
            self._map.close()
