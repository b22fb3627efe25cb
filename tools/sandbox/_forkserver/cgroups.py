"""Per-run control groups (cgroup v1): a pids group caps the processes of one program, a memory
group caps the memory of all of them together.

RLIMIT_NPROC would count every process of the sandbox uid on the machine (all concurrent runs
together) and is not enforced for root at all, so the process cap is a pids group per run.
RLIMIT_AS caps one process's address space; a program that forks can multiply it, so the memory
group caps the sum. The groups live under the server's own cgroup (never beside it), so whatever
limits the machine puts on us still hold. cgroup v2 is not supported yet: the server refuses.

    groups = Cgroups()                       # the server's own parent groups
    run = groups.create("7", processes=16, memory_bytes=256 << 20)
    run.join()                               # in the child, before it runs the program
    run.stats(); run.remove()                # after the child is reaped
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass

__all__ = ["Cgroups", "GroupStats", "RunGroups", "own_group", "remove_server_groups"]

_PREFIX = "sparring-sandbox-"


@dataclass(frozen=True)
class GroupStats:
    """What the kernel counted for one run."""

    oom_kills: int  # processes the memory group's OOM killer ended
    fork_refusals: int  # forks the pids group refused
    memory_peak: int  # bytes, the most the run's processes held at once


@dataclass(frozen=True)
class RunGroups:
    """The pids and memory groups of one run (their folders)."""

    pids: str
    memory: str

    def join(self) -> None:
        """Move the calling process into both groups (its children follow)."""
        for folder in (self.pids, self.memory):
            _write(folder, "cgroup.procs", "0")

    def stats(self) -> GroupStats:
        oom = _fields(_read(self.memory, "memory.oom_control"))
        events = _fields(_read(self.pids, "pids.events"))
        peak = int(_read(self.memory, "memory.max_usage_in_bytes"))
        return GroupStats(oom.get("oom_kill", 0), events.get("max", 0), peak)

    def remove(self) -> bool:
        """Remove both folders; False if the kernel still holds one (retried later)."""
        removed = True
        for folder in (self.pids, self.memory):
            try:
                os.rmdir(folder)
            except FileNotFoundError:
                pass
            except OSError:
                removed = False
        return removed


class Cgroups:
    """The server's parent groups, `sparring-sandbox-<pid>` under its own pids and memory
    groups; raises OSError naming what is missing when cgroup v1 is not usable here."""

    def __init__(self) -> None:
        name = f"{_PREFIX}{os.getpid()}"
        self._parents = {c: os.path.join(own_group(c), name) for c in ("pids", "memory")}
        self._leftover: list[RunGroups] = []
        for folder in self._parents.values():
            _remove_stale(os.path.dirname(folder))
            os.mkdir(folder)

    def create(self, run: str, processes: int, memory_bytes: int) -> RunGroups:
        self._leftover = [g for g in self._leftover if not g.remove()]
        groups = RunGroups(*(os.path.join(self._parents[c], run) for c in ("pids", "memory")))
        for folder in (groups.pids, groups.memory):
            os.mkdir(folder)
        _write(groups.pids, "pids.max", str(processes))
        _write(groups.memory, "memory.limit_in_bytes", str(memory_bytes))
        if os.path.exists(os.path.join(groups.memory, "memory.memsw.limit_in_bytes")):
            _write(groups.memory, "memory.memsw.limit_in_bytes", str(memory_bytes))  # no swap
        return groups

    def release(self, groups: RunGroups) -> None:
        if not groups.remove():
            self._leftover.append(groups)

    def close(self) -> None:
        for groups in self._leftover:
            groups.remove()
        for folder in self._parents.values():
            with contextlib.suppress(OSError):
                os.rmdir(folder)


def own_group(controller: str) -> str:
    """The folder of this process's `controller` group, from mountinfo and /proc/self/cgroup."""
    mount = _mount_of(controller)
    if mount is None:
        raise OSError(f"no cgroup v1 '{controller}' controller is mounted (cgroup v2 only?)")
    root, point = mount
    for line in _read("/proc/self", "cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return os.path.normpath(os.path.join(point, os.path.relpath(path, root)))
    raise OSError(f"this process is in no '{controller}' cgroup")


def _mount_of(controller: str) -> tuple[str, str] | None:
    """(root inside the hierarchy, mount point) of the cgroup v1 mount with `controller`."""
    for line in _read("/proc/self", "mountinfo").splitlines():
        fields = line.split()
        sep = fields.index("-")
        fstype, options = fields[sep + 1], fields[sep + 3]
        if fstype == "cgroup" and controller in options.split(","):
            return fields[3], fields[4]
    return None


def remove_server_groups(server_pid: int) -> None:
    """Kill whatever still runs in a dead server's groups, then remove them. A child dies with
    its server (PR_SET_PDEATHSIG), but a program may clear that; its group still holds it."""
    for controller in ("pids", "memory"):
        _clear(os.path.join(own_group(controller), f"{_PREFIX}{server_pid}"))


def _remove_stale(parent: str) -> None:
    """Remove the groups of servers that died without cleaning up (their pid is gone)."""
    for entry in os.scandir(parent):
        pid = entry.name[len(_PREFIX) :]
        if entry.name.startswith(_PREFIX) and pid.isdigit() and not _alive(int(pid)):
            _clear(entry.path)


def _clear(folder: str, tries: int = 200) -> None:
    """SIGKILL every process in `folder`'s run groups and remove them (waits up to ~2 s for
    the killed to be reaped)."""
    if not os.path.isdir(folder):
        return
    runs = [entry.path for entry in os.scandir(folder) if entry.is_dir()]
    for _ in range(tries):
        for run in runs:
            for pid in _read(run, "cgroup.procs").split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.rmdir(run)
        runs = [run for run in runs if os.path.isdir(run)]
        if not runs:
            break
        time.sleep(0.01)
    with contextlib.suppress(OSError):
        os.rmdir(folder)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fields(text: str) -> dict[str, int]:
    pairs = (line.split() for line in text.splitlines())
    return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].isdigit()}


def _read(folder: str, name: str) -> str:
    with open(os.path.join(folder, name)) as f:
        return f.read()


def _write(folder: str, name: str, value: str) -> None:
    with open(os.path.join(folder, name), "w") as f:
        f.write(value)
