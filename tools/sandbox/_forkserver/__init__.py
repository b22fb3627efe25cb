"""The fork server: a small stdlib-only program that `Sandbox` starts once and that forks one
confined child per program.

It runs as `python -S -s -B -c "from _forkserver.server import main; main()"` with
tools/sandbox/ first on sys.path: without site-packages, so it cannot import sparring (or
pydantic, or anything a program could abuse through the fork), and so each of these modules
imports the others relatively. Modules: linux (the system calls ctypes reaches), cgroups (the
per-run pids and memory groups), jail (the prepared root and confining a child), child (what a
forked child does: confine itself, run the program, report), server (the loop).
"""

__all__: list[str] = []
