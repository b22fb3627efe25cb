"""The fork server's loop: read requests, have the zygote fork a child each, watch, answer.

Protocol with the parent (JSON lines): the server's first line on stdout is {"ready": {...}} or
{"refused": "why"}; then the parent writes {"id", "code", "call", "limits"} lines on its stdin
and reads {"id", "outcome"} lines back, in completion order. stdin closed = shut down: every
run still going is killed, its groups removed.

Per run: the server makes its cgroups, asks the zygote for a child (see zygote: the process
that forks never holds a program), writes the request into the child's own pipe, and watches
the child's stdout, stderr and report pipes in one selector loop, with the nearest wall-time
deadline as its timeout. The child is pid 1 of its own pid namespace, so one SIGKILL (through
its pidfd: never a reused pid) ends every process the program started. A child writing past
the output cap is killed at once (reading on would let it flood until its CPU limit). A run
is answered once the zygote has reported its exit and its pipes are closed.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import selectors
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from .cgroups import Cgroups, RunGroups
from .jail import Jail, prepare
from .verdict import Facts, lost, verdict
from .zygote import start_zygote

__all__ = ["main"]

_CANARY = {"id": 0, "code": "x = 1", "call": "x + 1"}
_READ = 1 << 16
_ZYGOTE_FDS = 5  # pidfd, request, stdout, stderr, report


@dataclass
class _Run:
    """One child in flight."""

    request: dict[str, Any]
    groups: RunGroups
    started: float
    pid: int = 0
    pidfd: int = -1
    streams: dict[int, str] = field(default_factory=dict)  # open read ends -> their name
    output: dict[str, bytearray] = field(default_factory=dict)
    truncated: bool = False
    killed_for: str | None = None
    wait_status: int | None = None
    cpu_s: float = 0.0
    wall_s: float = 0.0

    @property
    def deadline(self) -> float:
        return self.started + float(self.request["limits"]["wall_s"])

    def kill(self, reason: str) -> None:
        if self.killed_for is None and self.wait_status is None and self.pidfd >= 0:
            self.killed_for = reason
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)


class Server:
    """The fork server (root, in its own mount namespace, with its parent cgroups)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        if os.geteuid() != 0:
            raise OSError("the fork server is not root (namespaces, cgroups and chroot need it)")
        self.limits: dict[str, float] = settings["limits"]
        try:
            self.groups = Cgroups()
        except OSError as e:
            raise OSError(f"no per-run cgroups ({e})") from e
        try:
            jail: Jail = prepare(int(settings["uid"]), int(settings["gid"]))
        except OSError as e:
            self.groups.close()
            raise OSError(f"no read-only root in a private mount namespace ({e})") from e
        self.zygote_pid, self._zygote = start_zygote(jail)  # before any request is read
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._zygote, selectors.EVENT_READ)
        self._runs: dict[int, _Run] = {}  # by request id
        self._by_fd: dict[int, _Run] = {}
        self._by_pid: dict[int, _Run] = {}
        self._pending = bytearray()
        self._closing = False
        self.answers: list[dict[str, Any]] = []

    def canary(self) -> dict[str, Any]:
        """Run one tiny program end to end; its outcome says whether confinement works here."""
        self._start({**_CANARY, "limits": self.limits})
        while not self.answers:
            self._step()
        answer = self.answers.pop()["outcome"]
        assert isinstance(answer, dict)
        return answer

    def serve(self) -> None:
        self._selector.register(0, selectors.EVENT_READ)
        os.set_blocking(0, False)
        while not (self._closing and not self._runs):
            self._step()
            for answer in self.answers:
                _send(answer)
            self.answers.clear()

    def close(self) -> None:
        self._zygote.close()  # the zygote exits, and any child left dies with it
        self.groups.close()

    def _step(self) -> None:
        now = time.monotonic()
        deadlines = [r.deadline for r in self._runs.values() if r.wait_status is None]
        timeout = max(min(deadlines) - now, 0.0) if deadlines else None
        for key, _ in self._selector.select(timeout):
            if key.fd == 0:
                self._read_requests()
            elif key.fileobj is self._zygote:
                self._hear_zygote()
            elif key.fd in self._by_fd:
                self._read_stream(self._by_fd[key.fd], key.fd)
        now = time.monotonic()
        for run in list(self._runs.values()):
            if run.wait_status is None and now >= run.deadline:
                run.kill("wall")

    def _read_requests(self) -> None:
        chunk = os.read(0, _READ)
        if not chunk:
            self._selector.unregister(0)
            self._closing = True
            for run in self._runs.values():
                run.kill("closed")
            return
        self._pending += chunk
        *lines, rest = self._pending.split(b"\n")
        self._pending = bytearray(rest)
        for line in lines:
            request = json.loads(line)
            try:
                self._start(request)
            except OSError as e:  # no cgroup left: this run only is lost
                self._lose(request["id"], f"the sandbox could not start this run: {e}")

    def _start(self, request: dict[str, Any]) -> None:
        limits = request["limits"]
        memory = int(limits["memory_mb"]) << 20
        groups = self.groups.create(f"run-{request['id']}", int(limits["processes"]), memory)
        self._runs[request["id"]] = _Run(request, groups, time.monotonic())
        self._zygote.send(json.dumps({"fork": request["id"]}).encode())

    def _hear_zygote(self) -> None:
        message, fds, _, _ = socket.recv_fds(self._zygote, 4096, _ZYGOTE_FDS)
        if not message:
            raise OSError("the zygote died")  # the parent restarts the whole server
        news = json.loads(message)
        if "forked" in news:
            self._attach(self._runs[news["forked"]], news["pid"], fds)
        elif "failed" in news:
            self._lose(news["failed"], f"the sandbox could not fork this run: {news['error']}")
        else:
            run = self._by_pid.pop(news["exited"])
            run.wait_status, run.cpu_s = news["status"], news["cpu_s"]
            run.wall_s = time.monotonic() - run.started
            self._finish_if_done(run)

    def _attach(self, run: _Run, pid: int, fds: list[int]) -> None:
        """Give a freshly forked child its request and start watching its pipes."""
        run.pid, run.pidfd = pid, fds[0]
        self._by_pid[pid] = run
        request = {k: run.request[k] for k in ("code", "call", "limits")}
        request["groups"] = [run.groups.pids, run.groups.memory]
        data = json.dumps(request).encode()
        with contextlib.suppress(BrokenPipeError):  # a child dead already: its exit tells
            while data:
                data = data[os.write(fds[1], data) :]
        os.close(fds[1])
        for fd, name in zip(fds[2:], ("stdout", "stderr", "report"), strict=True):
            os.set_blocking(fd, False)
            run.streams[fd] = name
            run.output[name] = bytearray()
            self._by_fd[fd] = run
            self._selector.register(fd, selectors.EVENT_READ)

    def _read_stream(self, run: _Run, fd: int) -> None:
        chunk = os.read(fd, _READ)
        if not chunk:
            self._selector.unregister(fd)
            os.close(fd)
            del self._by_fd[fd], run.streams[fd]
            self._finish_if_done(run)
            return
        name = run.streams[fd]
        buffer = run.output[name]
        cap = int(run.request["limits"]["output_bytes"])
        room = cap + 1024 + 1 - len(buffer)  # the report may be a little over: JSON around it
        if room > 0:
            buffer += chunk[:room]
        if name != "report" and len(buffer) > cap:
            run.truncated = True
            run.kill("output")

    def _finish_if_done(self, run: _Run) -> None:
        if run.wait_status is None or run.streams:
            return
        os.close(run.pidfd)
        stats = run.groups.stats()
        self.groups.release(run.groups)
        del self._runs[run.request["id"]]
        facts = Facts(
            limits=run.request["limits"],
            wait_status=run.wait_status,
            cpu_s=run.cpu_s,
            wall_s=run.wall_s,
            stdout=bytes(run.output["stdout"]),
            stderr=bytes(run.output["stderr"]),
            report=bytes(run.output["report"]),
            truncated=run.truncated,
            killed_for=run.killed_for,
            stats=stats,
            asked=run.request.get("call") is not None,
        )
        self.answers.append({"id": run.request["id"], "outcome": verdict(facts)})

    def _lose(self, rid: int, why: str) -> None:
        run = self._runs.pop(rid, None)
        if run is not None:
            self.groups.release(run.groups)
        self.answers.append({"id": rid, "outcome": lost(why)})


def main() -> None:
    """Entry point (see the package docstring for how it is started)."""
    sys.path.pop(0)  # the folder this package came from: children import the stdlib only
    builtins.exit = builtins.quit = sys.exit  # type: ignore[assignment]  # no site: no Quitter
    settings = json.loads(sys.argv[1])
    try:
        server = Server(settings)
    except OSError as e:
        _send({"refused": str(e)})
        return
    try:
        try:
            canary = server.canary()
        except OSError as e:
            canary = lost(str(e))
        if canary["status"] != "ok" or canary["value"] != "2":
            _send({"refused": f"a test program did not run confined: {canary['error']}"})
            return
        _send({"ready": {"startup_ms": round(canary["wall_s"] * 1000, 2)}})
        server.serve()  # OSError out of it: the zygote died or the parent is gone; exit 1
    finally:
        server.close()


def _send(message: dict[str, Any]) -> None:
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(1, data) :]
