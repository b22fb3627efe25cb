"""A child process that dies with its parent: no nats-server, worker or trainer left behind.

    proc = await asyncio.create_subprocess_exec(*cmd, preexec_fn=die_with_parent(SIGTERM))

Each child of sparring runs in its own session (so a Ctrl-C in the terminal reaches only its
owner, which then stops everything in order). The price was orphans: `sparring inspect RUN`
stopped with `kill PID` left its nats-server running, re-parented to init, holding the run's
store. On Linux `prctl(PR_SET_PDEATHSIG)` has the kernel send the child a signal the moment its
parent dies, however it died (SIGKILL included); elsewhere there is no such call and children
are only stopped by their owner's ordered shutdown.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(sig: signal.Signals) -> Callable[[], None] | None:
    """A `preexec_fn` that arms `sig` for when this process dies (None off Linux).

    The kernel watches the thread that forked, not the whole process: start children from the
    thread that lives as long as they should (the asyncio loop's). The function runs in the
    child between fork and exec, where only the forking thread exists, so it does as little
    as it can: libc's prctl is looked up here, in the parent, beforehand."""
    if sys.platform != "linux":
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl: too late to arm
            os.kill(os.getpid(), sig)

    return arm
