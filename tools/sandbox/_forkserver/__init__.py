"""The fork server: a small stdlib-only program that `Sandbox` starts once and that forks one
confined child per program.

It runs as `python -S -s -B -c "from _forkserver.server import main; main()"` with
tools/sandbox/ first on sys.path: without site-packages, so it cannot import sparring (or
pydantic, or anything a program could abuse through the fork), and so each of these modules
imports the others relatively. Modules: server (the loop, talking to the parent), zygote (the
process that forks every child and never sees a program), child (what a child does: read its
request, confine itself, run the program, report), jail (the read-only root and confining a
child), seccomp (the system-call filter), cgroups (the per-run pids and memory groups),
verdict (what a finished run came to), linux (the system calls ctypes reaches).
"""

__all__: list[str] = []
