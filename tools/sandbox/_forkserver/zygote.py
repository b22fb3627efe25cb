"""The zygote: the process that forks every child, and that never sees a program.

A forked child holds a copy of its parent's memory. Were the server to fork children, each
program could read (through gc, or its callers' frames) every other request and output the
server held at that moment. So the server forks the zygote once, before it has read any
request, and asks it for children by number only. The zygote forks each child with a fresh
set of pipes and hands the server their other ends (and a pidfd, to kill exactly that
process) over a unix socket; the server then writes the request into the child's own pipe.
The zygote reaps its children and reports each exit status and CPU time. It dies with the
server (PR_SET_PDEATHSIG, or the socket closing), and its children die with it.

Messages (SOCK_SEQPACKET, one JSON object each): server -> zygote {"fork": id};
zygote -> server {"forked": id, "pid": pid} with fds [pidfd, request, stdout, stderr, report],
{"failed": id, "error": why} when it could not fork, and {"exited": pid, "status": wait status,
"cpu_s": seconds}.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
from typing import NoReturn

from .child import run_child
from .jail import Jail
from .linux import CLONE_NEWPID, PR_SET_PDEATHSIG, prctl, setns, unshare

__all__ = ["start_zygote"]


def start_zygote(jail: Jail) -> tuple[int, socket.socket]:
    """Fork the zygote; returns its pid and the server's end of its socket."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        ours.close()
        _serve(theirs, jail)
    theirs.close()
    return pid, ours


def _serve(sock: socket.socket, jail: Jail) -> NoReturn:
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        pidns = os.open("/proc/self/ns/pid", os.O_RDONLY)
        wake_r, wake_w = os.pipe()
        for fd in (wake_r, wake_w):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(wake_w)  # SIGCHLD wakes the selector below
        signal.signal(signal.SIGCHLD, lambda *_: None)
        selector = selectors.DefaultSelector()
        selector.register(sock, selectors.EVENT_READ)
        selector.register(wake_r, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fileobj is sock:
                    message = sock.recv(4096)
                    if not message:
                        os._exit(0)  # the server is gone
                    _fork(sock, jail, pidns, int(json.loads(message)["fork"]))
                else:
                    os.read(wake_r, 4096)
                    _reap(sock)
    finally:
        os._exit(1)


def _fork(sock: socket.socket, jail: Jail, pidns: int, rid: int) -> None:
    """Fork one child as pid 1 of a new pid namespace and hand its pipes to the server."""
    pipes = [os.pipe() for _ in range(4)]  # request, stdout, stderr, report
    (request, _), (_, stdout), (_, stderr), (_, report) = pipes
    try:
        pid = _fork_in_new_pid_namespace(pidns)
    except OSError as e:  # no process left under the machine's limits: this run only
        socket.send_fds(sock, [json.dumps({"failed": rid, "error": str(e)}).encode()], [])
        pid = -1
    if pid == 0:
        run_child(jail, request, (stdout, stderr, report))
    if pid > 0:
        theirs = [os.pidfd_open(pid), pipes[0][1], pipes[1][0], pipes[2][0], pipes[3][0]]
        message = json.dumps({"forked": rid, "pid": pid}).encode()
        socket.send_fds(sock, [message], theirs)
        os.close(theirs[0])
    for fd in (fd for pipe in pipes for fd in pipe):
        os.close(fd)


def _fork_in_new_pid_namespace(pidns: int) -> int:
    unshare(CLONE_NEWPID)
    try:
        pid = os.fork()
    except BaseException:
        setns(pidns, CLONE_NEWPID)
        raise
    if pid != 0:  # never in the child: its own forks must stay in its namespace
        setns(pidns, CLONE_NEWPID)  # the next fork makes its own namespace again
    return pid


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        cpu = usage.ru_utime + usage.ru_stime
        sock.send(json.dumps({"exited": pid, "status": status, "cpu_s": cpu}).encode())
