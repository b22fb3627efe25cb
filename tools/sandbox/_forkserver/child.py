"""What a forked child does: take its pipes as fds 0-3, confine itself, run the program, report.

The report is one JSON object on fd 3, written after the program ran: the repr of `call`'s value,
or the exception that ended it. The program runs in this same process, so it can write to fd 3
too: a report is what the process claims, which is why a caller whose check depends on the value
passes only literals in `call` (the program is then judged by what it computes, not by what it
forges). The child never returns: it leaves through os._exit, so nothing of the server's (atexit
handlers, buffers) runs in it.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import fcntl
import json
import os
import signal
import sys
import traceback
from typing import Any, Literal, NoReturn, TextIO

from .cgroups import RunGroups
from .jail import Jail, stdlib_paths

__all__ = ["run_child"]

_REQUEST_FD = 4  # read, then closed, before the program runs
SETUP_FAILED = 70  # exit status of a child whose confinement failed (the program never ran)
_LIMIT_ERRNOS = {errno.EFBIG: "disk", errno.ENOSPC: "disk"}


def run_child(jail: Jail, request_fd: int, pipes: tuple[int, int, int]) -> NoReturn:
    """In the child, right after the zygote forked it: read the one request the server writes
    into its own pipe, confine, run, report. Never returns."""
    status = SETUP_FAILED
    try:
        signal.set_wakeup_fd(-1)  # the zygote's: its fd number will be reused
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _take_fds(request_fd, pipes)
        request = json.loads(_read_all(_REQUEST_FD))
        jail.confine(RunGroups(*request["groups"]), request["limits"])
    except BaseException as e:
        _report({"setup_error": f"{type(e).__name__}: {e}"})
    else:
        status = _run(request["code"], request.get("call"))
    os._exit(status)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _take_fds(request_fd: int, pipes: tuple[int, int, int]) -> None:
    """stdin from /dev/null, stdout, stderr, the report pipe and the request pipe as 0-4;
    every other fd closed first thing (the zygote's socket: nothing of the child's may reach
    the server except through these pipes; its namespace handle; other ends of the pipes)."""
    null = os.open("/dev/null", os.O_RDONLY)
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (null, *pipes, request_fd)]
    for target, fd in enumerate(high):
        os.dup2(fd, target)
    os.closerange(_REQUEST_FD + 1, os.sysconf("SC_OPEN_MAX"))


def _run(code: str, call: str | None) -> int:
    """Run the program as __main__, then evaluate `call` in its globals; return the exit status."""
    _fresh_interpreter_state()
    me = os.getpid()
    scope = sys.modules["__main__"].__dict__
    report: dict[str, Any] = {}
    status = 0
    try:
        exec(compile(code, "<program>", "exec"), scope)
        if call is not None:
            report["value"] = repr(eval(compile(call, "<call>", "eval"), scope))
    except SystemExit as e:
        status = _exit_status(e)
        if call is not None and status == 0:
            report["error"] = "the program exited before the call was evaluated"
            status = 1
    except BaseException as e:
        status = 1
        report.update(_describe(e))
        _print_traceback(e)
    _flush()
    if os.getpid() == me:  # a process the program forked ends here too: it does not report
        _report(report)
    return status


def _fresh_interpreter_state() -> None:
    """What a fresh `python program.py` would see: an empty __main__, no environment, the
    standard library only, stdio on fds 0-2."""
    main = type(sys)("__main__")
    main.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = main
    os.environ.clear()
    sys.argv = ["<program>"]
    sys.path[:] = stdlib_paths()
    sys.stdin, sys.stdout, sys.stderr = _stream(0, "r"), _stream(1, "w"), _stream(2, "w")


def _stream(fd: int, mode: Literal["r", "w"]) -> TextIO:
    """`fd` as a text stream that lives as long as the process (no context manager)."""
    return open(fd, mode, encoding="utf-8", errors="backslashreplace", closefd=False)


def _describe(e: BaseException) -> dict[str, Any]:
    described: dict[str, Any] = {"error": f"{type(e).__name__}: {e}"[:1000]}
    if isinstance(e, MemoryError):
        described["limit"] = "memory"
    elif isinstance(e, OSError) and e.errno in _LIMIT_ERRNOS:
        described["limit"] = _LIMIT_ERRNOS[e.errno]
    return described


def _exit_status(e: SystemExit) -> int:
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code & 0xFF
    print(e.code, file=sys.stderr)  # sys.exit("message") prints it and exits 1, as python does
    return 1


def _print_traceback(e: BaseException) -> None:
    """The traceback from the program's frames down (this module's frame left out)."""
    with contextlib.suppress(BaseException):  # no memory left to format it, or stderr closed
        tb = e.__traceback__.tb_next if e.__traceback__ else None
        traceback.print_exception(type(e), e, tb)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):  # the program closed or broke its stream
            stream.flush()


def _report(report: dict[str, Any]) -> None:
    data = json.dumps(report).encode()
    try:
        while data:
            data = data[os.write(3, data) :]
    except OSError:  # the program closed fd 3: no report, the server says so
        pass
