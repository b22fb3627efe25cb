"""The jail: a read-only root prepared once in the server, and confining one forked child in it.

`prepare` runs once, in the server: it enters a private mount namespace and builds, on a tmpfs
over the server's own /tmp (the host never sees it), a root holding only what a forked
interpreter may still need: the shared libraries (/usr/lib, /lib links), the standard library
at its own path, four device nodes (null, zero, random, urandom), empty mount points for /proc
and /work, and /tmp as a link to /work. No /etc, no /home, no /root, no binaries (/usr/bin is
not there, so there is no shell to run), no /sys. The root is then made read-only.

`confine` runs in each child, before the program: it is already pid 1 of a fresh pid namespace
(the server forks it so); it leaves the server's session, enters fresh mount, network, IPC and
UTS namespaces, joins its run's cgroups, mounts its own /proc (showing only its own processes)
and a size-capped tmpfs as /work (noexec), chroots into the root, sets its rlimits, drops to
the unprivileged uid (which clears every capability), asks to be killed when the server dies,
sets no_new_privs, checks that no
privilege is left, and installs the seccomp filter (see seccomp).
"""

from __future__ import annotations

import os
import resource
import signal
import sys
from dataclasses import dataclass

from . import seccomp
from .cgroups import RunGroups
from .linux import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWUTS,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    PR_SET_PDEATHSIG,
    mount,
    no_new_privs,
    prctl,
    sethostname,
    unshare,
)

__all__ = ["Jail", "prepare", "stdlib_paths"]

_DEVICES = ("null", "zero", "random", "urandom")
_DEVICE_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1"}
_DEVICE_LINKS["stderr"] = "/proc/self/fd/2"
_LIBRARIES = ("usr/lib", "usr/lib64", "usr/lib32", "usr/libx32")
_TOP_LIBRARIES = ("lib", "lib64", "lib32", "libx32")


@dataclass(frozen=True)
class Jail:
    """The prepared root and the unprivileged identity children take."""

    root: str
    uid: int
    gid: int

    def confine(self, groups: RunGroups, limits: dict[str, float]) -> None:
        """Confine the calling (freshly forked) child; see the module docstring."""
        os.setsid()  # out of the server's process group: kill(0, ...) reaches only this run
        unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
        sethostname("sandbox")
        groups.join()
        _mount_proc(f"{self.root}/proc")
        disk = int(limits["disk_mb"]) << 20
        options = f"size={disk},mode=700,uid={self.uid},gid={self.gid}"
        mount("work", f"{self.root}/work", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options)
        os.chroot(self.root)
        os.chdir("/work")
        _set_rlimits(limits)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # too big a file: EFBIG, not a kill
        os.setgroups([])
        os.setresgid(self.gid, self.gid, self.gid)
        os.setresuid(self.uid, self.uid, self.uid)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with the zygote; set after setuid
        no_new_privs()
        _check_unprivileged(self.uid)
        seccomp.install()


def _check_unprivileged(uid: int) -> None:
    """Fail closed: the program never runs with any uid of root's or any capability left."""
    with open("/proc/self/status") as f:
        status = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    caps = {key: int(status[key], 16) for key in ("CapInh", "CapPrm", "CapEff", "CapAmb")}
    if os.getresuid() != (uid, uid, uid) or any(caps.values()):
        raise OSError(f"privileges were not dropped (uids {os.getresuid()}, {caps})")


def prepare(uid: int, gid: int) -> Jail:
    """Build the read-only root in a private mount namespace of the calling server."""
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here reaches the host
    mount("sandbox-root", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    root = "/tmp/root"
    for folder in ("", "/proc", "/work", "/dev"):
        os.mkdir(root + folder, 0o755)
    os.symlink("/work", f"{root}/tmp")
    for top in _TOP_LIBRARIES:
        if os.path.islink(f"/{top}"):
            os.symlink(os.readlink(f"/{top}"), f"{root}/{top}")
        elif os.path.isdir(f"/{top}"):
            _bind_read_only(f"/{top}", root)
    for path in (f"/{p}" for p in _LIBRARIES):
        if os.path.isdir(path) and not os.path.islink(path):
            _bind_read_only(path, root)
    for path in stdlib_paths():
        if not any(path.startswith(f"/{p}/") for p in _LIBRARIES):
            _bind_read_only(path, root)
    for device in _DEVICES:
        open(f"{root}/dev/{device}", "w").close()
        mount(f"/dev/{device}", f"{root}/dev/{device}", None, MS_BIND)
    for name, target in _DEVICE_LINKS.items():
        os.symlink(target, f"{root}/dev/{name}")
    mount(None, "/tmp", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    return Jail(root, uid, gid)


def stdlib_paths() -> list[str]:
    """The import path a child keeps: the interpreter's own folders, nothing installed."""
    return [p for p in sys.path if os.path.isdir(p)]


def _bind_read_only(path: str, root: str) -> None:
    os.makedirs(root + path, 0o755, exist_ok=True)
    mount(path, root + path, None, MS_BIND | MS_REC)
    mount(None, root + path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _mount_proc(target: str) -> None:
    """A /proc of this pid namespace; with subset=pid (Linux 5.8+) also without /proc/sys,
    /proc/kcore and the other system-wide files."""
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    try:
        mount("proc", target, "proc", flags, "subset=pid")
    except OSError:
        mount("proc", target, "proc", flags)


def _set_rlimits(limits: dict[str, float]) -> None:
    cpu = int(limits["cpu_s"])
    memory = int(limits["memory_mb"]) << 20
    disk = int(limits["disk_mb"]) << 20
    files = int(limits["open_files"])
    # soft == hard for CPU: SIGKILL at the limit (pid 1 of a namespace ignores SIGXCPU).
    for which, value in (
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_FSIZE, disk),
        (resource.RLIMIT_NOFILE, files),
    ):
        resource.setrlimit(which, (value, value))
