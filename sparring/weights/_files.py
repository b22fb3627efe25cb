"""Where the same-host weight files live, and how they are written and removed.

A version is written once, to a temporary name in the same folder, flushed, and renamed into
place: a reader sees the whole file or none. Files are never rewritten in place, so a file
whose digest a worker checked still holds those bytes when it loads them. /dev/shm is RAM (no
disk write at all) and is used when it has room; otherwise the run folder, whose freshly written
pages are read back from the page cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["choose_dir", "file_name", "prune", "save_atomic", "write_atomic"]

SHM = Path("/dev/shm")
_MARGIN = 256 * 1024 * 1024
_VERSION = re.compile(r"policy-v(\d+)\.safetensors")


def choose_dir(
    setting: str, run_dir: Path, run: str, size: int, copies: int, who: str = ""
) -> Path:
    """The folder for weight files: `setting` if it is a path; for 'auto', a folder of this
    run in /dev/shm when it holds `copies` files of `size` bytes with room to spare, else
    RUN/weights. `who` names a worker's own cache (RUN/weights/<who>)."""
    if setting != "auto":
        return Path(setting)
    if SHM.is_dir() and os.access(SHM, os.W_OK):
        try:
            free = shutil.disk_usage(SHM).free
        except OSError:
            free = 0
        if free > copies * size + _MARGIN:
            tag = hashlib.sha1(str(Path(run_dir).resolve()).encode()).hexdigest()[:8]
            return SHM / (f"sparring-{run}-{tag}" + (f"-{who}" if who else ""))
    return Path(run_dir) / "weights" / who if who else Path(run_dir) / "weights"


def write_atomic(folder: Path, name: str, parts: Iterable[bytes | memoryview]) -> Path:
    """Write `parts` to folder/name through a temporary file and a rename; returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            for part in parts:
                f.write(part)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def save_atomic(folder: Path, name: str, save: Callable[[str], object]) -> Path:
    """`save(temporary path)`, then the rename to folder/name; returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    try:
        save(str(tmp))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def prune(folder: Path, keep: int) -> list[int]:
    """Remove all but the newest `keep` version files in `folder`; returns the versions removed."""
    if not folder.is_dir():
        return []
    found = sorted(
        (int(m.group(1)), p) for p in folder.iterdir() if (m := _VERSION.fullmatch(p.name))
    )
    removed = []
    for version, path in found[: max(0, len(found) - keep)]:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        removed.append(version)
    return removed


def file_name(version: int) -> str:
    """The file name of a version."""
    return f"policy-v{version}.safetensors"
