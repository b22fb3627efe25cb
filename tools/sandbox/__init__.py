"""The code sandbox: runs model-written Python confined, many programs at once.

    async with Sandbox() as sandbox:                     # or: sparring sandbox FILE.py
        outcome = await sandbox.run(code, call="f(3)")   # status "ok", value "[0, 1, 4]"
        outcome.status, outcome.limit, outcome.stdout    # see Outcome for every field

The interpreter starts once: a fork server (`python -S`: the standard library only; an empty
environment but PYTHONHASHSEED=0, so set order is the same in every run) forks a zygote that
never sees a program, and the zygote forks one child per program. The child reads its one
request, confines itself, runs it and exits: no process runs two programs, and none holds
another's code or output. Modules: sandbox (the async API), limits, outcome, errors,
command (`sparring sandbox`), _forkserver (the stdlib-only server, zygote, jail and verdict).

What is contained, and how (tests/test_tools_sandbox.py runs a hostile program against each):

- processes: pid 1 of its own pid namespace (sees and can signal only its own processes; one
  SIGKILL ends them all), its own session; a pids cgroup per run caps processes and threads.
  As root RLIMIT_NPROC is not enforced, and for nobody it counts every run together: not used.
- network: a fresh network namespace with only a loopback that is down, so nothing can be
  reached, the host's 127.0.0.1 included (abstract unix sockets are per namespace too).
- files: chroot into a read-only root built once (tmpfs): the shared libraries, the standard
  library, /dev/null, zero, random, urandom. No /etc, /home, /root, /sys, /usr/bin or shell.
  Writable: only /work (the working directory; /tmp links to it), a fresh tmpfs per run of
  `disk_mb`, noexec; RLIMIT_FSIZE caps a file. /proc is its own (only its processes).
- identity: uid/gid 65534 (nobody), no supplementary groups; no capability left (checked before
  the program runs: fail closed); no_new_privs; not dumpable, so its /proc files are root's.
- system calls: a seccomp filter denies user and other namespaces, mount, keyrings, bpf,
  io_uring, userfaultfd, perf_event_open, ptrace, process_vm_*, kexec and modules (seccomp).
- IPC and UTS namespaces of its own (no SysV IPC shared; hostname "sandbox"); no core dumps.
- limits: wall time (the server's SIGKILL), CPU (RLIMIT_CPU, per process), memory (RLIMIT_AS
  per process and a memory cgroup for all of them), output (killed at the cap), disk, files.
- lifetime: it dies with the zygote and the zygote with the server (PR_SET_PDEATHSIG); if the
  server dies anyway, `Sandbox` kills what is left in its cgroups, answers the runs in flight
  "lost" and starts a new server for the next run (logged, counted in `restarts`).

Not contained: the kernel is shared (a kernel bug reachable through the calls allowed is not
stopped, as in any container); the value is what the process reports, and the program runs in
that process, so it could forge it (pass only literals in `call` where a reward depends on the
value); CPU time is capped per process, and only the wall limit bounds the sum over a fork;
timing is visible between concurrent runs.

Refused: the fork server checks each containment as it sets it up and then runs one program
fully confined; anything missing (not Linux, not root, no cgroup v1 pids and memory
controllers, a namespace or mount not allowed, an unknown architecture for the seccomp table)
makes `start` raise SandboxUnavailableError naming it. Only the kernel is needed: no
bubblewrap or nsjail. cgroup v2-only machines are refused for now.
"""

from sparring.tools.sandbox.errors import SandboxError, SandboxUnavailableError
from sparring.tools.sandbox.limits import Limits
from sparring.tools.sandbox.outcome import LimitName, Outcome, Status
from sparring.tools.sandbox.sandbox import Sandbox, SandboxConfig

__all__ = [
    "LimitName",
    "Limits",
    "Outcome",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "SandboxUnavailableError",
    "Status",
]
