"""`Sandbox`: run untrusted Python programs concurrently, each in its own confined process.

    async with Sandbox() as sandbox:
        outcome = await sandbox.run("def f(x):\n    return x * 2", call="f(21)")
        outcome.status, outcome.value                      # "ok", "42"

The interpreter starts once: `start` launches the fork server (see _forkserver), a Python that
has imported only the standard library it needs, and every `run` asks it to fork one child,
which confines itself, runs exactly one program and exits. `run` never raises for anything the
program does: the outcome says it. If the fork server dies, the runs it had in flight come back
"lost" and the next `run` starts a new server (logged, and counted in `restarts`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sparring.tools.sandbox._forkserver.cgroups import remove_server_groups
from sparring.tools.sandbox._forkserver.verdict import lost
from sparring.tools.sandbox.errors import SandboxError, SandboxUnavailableError
from sparring.tools.sandbox.limits import Limits
from sparring.tools.sandbox.outcome import Outcome

__all__ = ["Sandbox", "SandboxConfig"]

log = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
_BOOT = f"import sys; sys.path.insert(0, {str(_HERE)!r}); from _forkserver.server import main"
_BOOT += "; main()"
_LINE_LIMIT = 1 << 28  # an outcome line: two capped streams and a value, JSON-escaped


class SandboxConfig(BaseModel):
    """How the sandbox runs programs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limits: Limits = Field(default_factory=Limits, description="Limits of a run not given its own.")
    max_concurrent: int = Field(
        default=8, ge=1, le=1024, description="Programs running at once; more `run`s wait."
    )
    # Not 0 (root) and not 2**32 - 1: setresuid(-1) would leave the uid unchanged.
    uid: int = Field(
        default=65534, ge=1, lt=(1 << 32) - 1, description="The unprivileged uid programs run as."
    )
    gid: int = Field(default=65534, ge=1, lt=(1 << 32) - 1, description="Their gid (nogroup).")
    python: str = Field(
        default=sys.executable,
        description="Interpreter of the fork server; programs see its standard library only.",
    )
    start_timeout_s: float = Field(default=60.0, gt=0, description="Fork server start-up limit.")


class _Server:
    """One fork server process and the runs it has in flight."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pid = process.pid
        self.pending: dict[int, asyncio.Future[Outcome]] = {}
        self.reader = asyncio.create_task(self._read())

    @property
    def alive(self) -> bool:
        return self.process.returncode is None and not self.reader.done()

    async def ask(self, request: dict[str, Any]) -> Outcome:
        """Send one request and wait for its outcome (lost if the server dies meanwhile)."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        if self.reader.done():  # it died since the caller checked
            return Outcome.model_validate(lost("the fork server died before this could run"))
        self.pending[request["id"]] = future
        assert self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            await self.process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # it died: the reader resolves the future as lost
        return await future

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            message = json.loads(line)
            future = self.pending.pop(message["id"], None)
            if future is not None and not future.done():
                future.set_result(Outcome.model_validate(message["outcome"]))
        code = await self.process.wait()
        await asyncio.to_thread(remove_server_groups, self.pid)  # what still runs there dies
        why = f"the fork server died (exit status {code}) while this ran"
        for future in self.pending.values():
            if not future.done():
                future.set_result(Outcome.model_validate(lost(why)))
        self.pending.clear()

    async def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()  # the server kills what still runs and exits
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        await self.reader


class Sandbox:
    """Runs programs confined (see the package docstring for what is contained and how)."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.restarts = 0
        self._server: _Server | None = None
        self._starting = asyncio.Lock()
        self._slots = asyncio.Semaphore(self.config.max_concurrent)
        self._ids = itertools.count(1)
        self._closed = False

    @property
    def server_pid(self) -> int | None:
        """pid of the running fork server (None before `start` and after `aclose`)."""
        return self._server.pid if self._server and self._server.alive else None

    async def start(self) -> None:
        """Start the fork server; raises SandboxUnavailableError where confinement fails."""
        if self._closed:
            raise SandboxError("this sandbox is closed; make a new Sandbox")
        async with self._starting:
            if self._server is not None and self._server.alive:
                return
            if self._server is not None:
                await self._server.close()
                self.restarts += 1
                code = self._server.process.returncode
                log.warning(
                    "sandbox: the fork server (pid %d) died with exit status %s; starting a "
                    "new one (restart %d)",
                    self._server.pid,
                    code,
                    self.restarts,
                )
            self._server = await asyncio.wait_for(self._launch(), self.config.start_timeout_s)

    async def run(
        self, code: str, call: str | None = None, limits: Limits | None = None
    ) -> Outcome:
        """Run `code` as a program's __main__, then, if given, evaluate the expression `call`
        in its globals: `value` is its repr. Pass only literals as arguments in `call` where
        the value decides a reward (see _forkserver.child on why)."""
        async with self._slots:
            await self.start()
            assert self._server is not None
            limits = limits or self.config.limits
            request = {"id": next(self._ids), "code": code, "call": call}
            return await self._server.ask(request | {"limits": limits.model_dump()})

    async def aclose(self) -> None:
        self._closed = True
        if self._server is not None:
            await self._server.close()
            self._server = None

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _launch(self) -> _Server:
        if sys.platform != "linux":
            raise SandboxUnavailableError(f"this is {sys.platform}, not Linux")
        config = self.config
        settings = {"uid": config.uid, "gid": config.gid, "limits": config.limits.model_dump()}
        process = await asyncio.create_subprocess_exec(
            *(self.config.python, "-S", "-s", "-B", "-c", _BOOT, json.dumps(settings)),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={"PYTHONHASHSEED": "0"},  # the same set and dict order in every run
            start_new_session=True,  # Ctrl-C in a terminal reaches us, not the server
            limit=_LINE_LIMIT,
        )
        assert process.stdout is not None
        first = await process.stdout.readline()
        if not first:
            code = await process.wait()
            raise SandboxUnavailableError(f"the fork server exited with status {code} at start")
        hello = json.loads(first)
        if "refused" in hello:
            await process.wait()
            raise SandboxUnavailableError(hello["refused"])
        return _Server(process)
