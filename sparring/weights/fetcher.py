"""The worker's side: get an announced version the fastest way open to it, verified.

    fetcher = WeightsFetcher(bus, policy, run_dir)
    loaded = await fetcher.load(pv)       # Loaded, None (no way for this machine yet), or
                                          # WeightsUnavailable (every way tried failed)

Ways, in order (the PolicyVersion says which exist):
1. same host (`pv.host` is this machine): the trainer's file, its digest checked through a
   memory map, then handed to the policy as a path (transformers memory-maps it; vLLM's
   engine reads it);
2. delta (the worker serves exactly `pv.version - 1` and still has those bytes): fetched,
   applied to them and written to this worker's cache file, digest checked as it is written;
3. whole: streamed chunk by chunk from the Object Store into the cache file, digest checked
   as it is written.
A way that fails (gone, corrupt, not applicable) falls through to the next. Nothing reaches
the policy unverified, so a worker never serves half a version: it serves the old one whole
until a new one is whole. The cache file of the version served is kept as the next delta's
base; the one before is removed once the new one is loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mmap
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sparring.bus import Bus, ObjectNotFoundError
from sparring.errors import BusError
from sparring.messages import Metric, PolicyVersion
from sparring.weights import _files
from sparring.weights._delta import DeltaError, apply_delta
from sparring.weights._digest import Hasher, file_digest_matches, host_id
from sparring.weights.errors import WeightsUnavailable

__all__ = ["Loaded", "WeightsFetcher", "load_announced"]

log = logging.getLogger(__name__)

Way = Literal["file", "delta", "bus"]


@dataclass(frozen=True)
class Loaded:
    """A version the policy now serves, and how it came."""

    version: int
    way: Way
    seconds: float


class _Corrupt(Exception):
    """Bytes that do not match the announced digest."""


class WeightsFetcher:
    """Loads announced versions into one policy (see the module docstring)."""

    def __init__(
        self, bus: Bus, policy: Any, run_dir: Path | None = None, cache_dir: Path | None = None
    ) -> None:
        """`run_dir`: the worker's folder; its cache goes to /dev/shm when that has room, else
        under it (a temporary folder without one). `cache_dir` names the cache folder outright."""
        self._bus = bus
        self._policy = policy
        self._run_dir = run_dir
        self._cache: Path | None = cache_dir
        self._owned_cache = False
        self._base: tuple[PolicyVersion, Path, bool] | None = None  # pv, its bytes, ours?

    @property
    def cache(self) -> Path | None:
        """The folder of this worker's own copy of the version served (None until needed)."""
        return self._cache

    async def load(self, pv: PolicyVersion) -> Loaded | None:
        """Serve `pv` if a way to it works; None if none is open to this worker yet (a
        same-host file elsewhere, a delta from another version: the whole copy is announced
        once stored)."""
        t0 = time.perf_counter()
        reasons: list[str] = []
        missing = True
        if pv.file and pv.host == host_id():
            path = Path(pv.file)
            if await asyncio.to_thread(file_digest_matches, path, pv):
                await self._serve(pv, path, owned=False)
                return Loaded(pv.version, "file", time.perf_counter() - t0)
            missing = not await asyncio.to_thread(path.exists)
            reasons.append(f"same-host file {path} {'is gone' if missing else 'is corrupt'}")
        for way, fetch in (("delta", self._fetch_delta), ("bus", self._fetch_whole)):
            if way == "bus" and not pv.weights:
                break
            try:
                got = await fetch(pv)
            except ObjectNotFoundError as e:
                reasons.append(f"{way}: {e}")
                continue
            except (_Corrupt, DeltaError, BusError, OSError) as e:
                reasons.append(f"{way}: {e}")
                missing = False
                continue
            if got is not None:
                await self._serve(pv, got, owned=True)
                return Loaded(pv.version, way, time.perf_counter() - t0)  # type: ignore[arg-type]
        if not pv.weights:  # announced before its whole copy is stored: that one follows
            if reasons:
                log.info("v%d: %s; waiting for the whole copy", pv.version, "; ".join(reasons))
            return None
        raise WeightsUnavailable(pv.version, reasons, missing=missing)

    async def _serve(self, pv: PolicyVersion, path: Path, owned: bool) -> None:
        await self._policy.load_weights(path, pv.version, pv.format)
        old, self._base = self._base, (pv, path, owned)
        if old is not None and old[2] and old[1] != path:
            with contextlib.suppress(OSError):
                old[1].unlink()

    async def _fetch_delta(self, pv: PolicyVersion) -> Path | None:
        base = self._base
        if not pv.delta or base is None or base[0].version != pv.version - 1:
            return None
        if not pv.delta_base or base[0].digest != pv.delta_base:
            return None
        delta = await self._bus.get_object(pv.delta)
        return await asyncio.to_thread(self._apply, pv, base[1], delta)

    def _apply(self, pv: PolicyVersion, base: Path, delta: bytes) -> Path:
        with contextlib.ExitStack() as stack:
            try:
                f = stack.enter_context(open(base, "rb"))
            except OSError as e:
                raise DeltaError(f"the base v{pv.version - 1} is gone ({e})") from e
            old = stack.enter_context(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
            try:
                return self._write_verified(pv, lambda sink: apply_delta(old, delta, sink))
            except (DeltaError, _Corrupt) as e:
                # Re-raised outside: its traceback holds views of the map, which must close.
                failure: Exception = type(e)(str(e))
        raise failure

    async def _fetch_whole(self, pv: PolicyVersion) -> Path:
        folder = await asyncio.to_thread(self._folder, pv)
        tmp = folder / f".{_files.file_name(pv.version)}.part"
        hasher = Hasher(pv)
        f = await asyncio.to_thread(open, tmp, "wb")

        def sink(chunk: bytes) -> None:  # in read_object's thread: write and hash as it comes
            f.write(chunk)
            hasher.update(chunk)

        try:
            await self._bus.read_object(pv.weights, sink)
        except BaseException:
            f.close()
            tmp.unlink(missing_ok=True)
            raise
        f.close()
        return await asyncio.to_thread(self._keep, pv, tmp, hasher)

    def _write_verified(self, pv: PolicyVersion, produce: Any) -> Path:
        folder = self._folder(pv)
        tmp = folder / f".{_files.file_name(pv.version)}.part"
        hasher = Hasher(pv)
        try:
            with open(tmp, "wb") as f:

                def sink(piece: memoryview) -> None:
                    f.write(piece)
                    hasher.update(piece)

                produce(sink)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return self._keep(pv, tmp, hasher)

    def _keep(self, pv: PolicyVersion, tmp: Path, hasher: Hasher) -> Path:
        if not hasher.matches():
            tmp.unlink(missing_ok=True)
            raise _Corrupt(f"v{pv.version}'s bytes do not match its digest {hasher.expected}")
        if pv.size_bytes and tmp.stat().st_size != pv.size_bytes:
            tmp.unlink(missing_ok=True)
            raise _Corrupt(f"v{pv.version} is {tmp.stat().st_size} bytes, not {pv.size_bytes}")
        path = tmp.with_name(_files.file_name(pv.version))
        os.replace(tmp, path)
        return path

    def _folder(self, pv: PolicyVersion) -> Path:
        if self._cache is not None:
            self._cache.mkdir(parents=True, exist_ok=True)
        else:
            size = pv.size_bytes or 1
            if self._run_dir is None:
                shm = _files.SHM if _files.SHM.is_dir() else None
                room = shm is not None and shutil.disk_usage(shm).free > 3 * size + 2**28
                self._cache = Path(tempfile.mkdtemp(prefix="sparring-weights-",
                                                    dir=shm if room else None))  # fmt: skip
                self._owned_cache = True
            else:
                name = self._bus.name
                self._cache = _files.choose_dir("auto", self._run_dir, self._bus.run, size, 3, name)
                self._cache.mkdir(parents=True, exist_ok=True)
                _files.prune(self._cache, 0)  # what a killed predecessor left
        return self._cache

    def close(self) -> None:
        """Remove this fetcher's cached files (the policy holds its own copy of the weights)."""
        if self._cache is None:
            return
        if self._owned_cache or self._cache.parent == _files.SHM:
            shutil.rmtree(self._cache, ignore_errors=True)
        else:
            _files.prune(self._cache, 0)
        self._cache, self._base = None, None


async def load_announced(
    bus: Bus, policy: Any, pv: PolicyVersion, fetcher: WeightsFetcher | None = None
) -> Loaded | None:
    """Load the weights `pv` announces into `policy`, or the current ones if the trainer
    already removed them (a worker that fell more than `trainer.keep_weights` versions
    behind). A version that cannot be had (gone, corrupt) is reported, in the log and as a
    `weights_unavailable` Metric, and the policy keeps serving what it has."""
    own = fetcher is None
    fetcher = fetcher or WeightsFetcher(bus, policy)
    try:
        try:
            return await fetcher.load(pv)
        except WeightsUnavailable as e:
            current = await bus.get_policy() if e.missing else None
            if current is None or current.version <= pv.version:
                raise
            return await fetcher.load(current)
    except WeightsUnavailable as e:
        await _say_unavailable(bus, policy, e)
        return None
    finally:
        if own:
            fetcher.close()


async def _say_unavailable(bus: Bus, policy: Any, e: WeightsUnavailable) -> None:
    served = int(policy.version)
    log.warning("%s: %s; still serving v%d", bus.name, e, served)
    values = {"weights_unavailable": 1.0, "wanted_version": float(e.version),
              "policy_version": float(served)}  # fmt: skip
    metric = Metric(run=bus.run, source=bus.name, step=served, values=values, note=str(e)[:2000])
    with contextlib.suppress(BusError):
        await bus.publish(metric)
