"""The trainer's side: publish one version of the weights every way `SyncConfig` asks.

    publisher = WeightsPublisher(bus, config.sync, run_dir, keep_objects=config.keep_weights)
    pv = await publisher.publish(version, step, safetensors_bytes, "full")

Order, so that each worker waits only for its own way:
1. the digest (xxh3-128) of the bytes, once;
2. same host: the file, written once and atomically, then the version is announced with the
   file alone (`weights` empty): workers on this machine load it while the bus copy uploads;
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
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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
    data: bytes
    digest: str


class WeightsPublisher:
    """Publishes versions of the weights for one run (see the module docstring)."""

    def __init__(self, bus: Bus, config: SyncConfig, run_dir: Path, keep_objects: int) -> None:
        self._bus = bus
        self._config = config
        self._run_dir = Path(run_dir)
        self._keep_objects = keep_objects
        self._dir: Path | None = None
        self._last: _Last | None = None  # the previous version's bytes, the delta's base

    @property
    def folder(self) -> Path | None:
        """Where the same-host files go (None until the first publish, or if none are)."""
        return self._dir

    async def publish(
        self, version: int, step: int, data: bytes, format: Literal["full", "lora"] = "full"
    ) -> PolicyVersion:
        """Publish `data` (safetensors bytes) as `version`; returns the final announcement."""
        digest = await asyncio.to_thread(digest_of, data)
        pv = PolicyVersion(
            run=self._bus.run, version=version, step=step, weights="", format=format,
            size_bytes=len(data), digest=digest,
        )  # fmt: skip
        if self._config.same_host:
            path = await asyncio.to_thread(self._write_file, version, data)
            pv = pv.model_copy(update={"host": host_id(), "file": str(path)})
            if self._config.bus:  # workers here need not wait for the upload
                await self._bus.set_policy(pv)
        if self._config.bus:
            pv = await self._put(pv, data)
        await self._bus.set_policy(pv)
        self._last = _Last(version, data, digest) if self._config.delta else None
        await self._prune(version)
        return pv

    def _write_file(self, version: int, data: bytes) -> Path:
        if self._dir is None:
            copies = self._config.keep_files + 1
            self._dir = _files.choose_dir(
                self._config.dir, self._run_dir, self._bus.run, len(data), copies
            )
            log.info("same-host weights in %s", self._dir)
        return _files.write_atomic(self._dir, _files.file_name(version), [data])

    async def _put(self, pv: PolicyVersion, data: bytes) -> PolicyVersion:
        last = self._last
        if self._config.delta and last is not None and last.version == pv.version - 1:
            delta = await asyncio.to_thread(make_delta, last.data, data)
            if delta is not None and len(delta) <= self._config.delta_max_ratio * len(data):
                stored = await self._bus.put_object(delta_name(pv.version), delta)
                pv = pv.model_copy(update={"delta": stored.name, "delta_base": last.digest,
                                           "delta_bytes": stored.size})  # fmt: skip
                await self._bus.set_policy(pv)  # workers one version behind need no more
        info = await self._bus.put_object(object_name(pv.version), data)
        return pv.model_copy(update={"weights": info.name, "sha256": info.sha256})

    async def _prune(self, version: int) -> None:
        if self._dir is not None:
            await asyncio.to_thread(_files.prune, self._dir, self._config.keep_files)
        old = version - self._keep_objects
        if old >= 1:
            await self._bus.delete_object(object_name(old))
        if version >= 3:  # a delta serves only a worker on the version just before it
            await self._bus.delete_object(delta_name(version - 2))

    def close(self) -> None:
        """Remove the same-host files if they are in RAM (/dev/shm); a run folder keeps its."""
        if self._dir is not None and self._dir.parent == _files.SHM:
            with contextlib.suppress(OSError):
                shutil.rmtree(self._dir)
