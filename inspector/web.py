"""The web inspector: a page on 127.0.0.1 that lists a run's episodes live and opens each one.

Inside an asyncio program (the launcher does this beside the training loop):

    server = await serve_inspector(bus_url, run="arith-1", port=0)
    print("inspector:", server.url)
    ...
    await server.close()

From the shell, `sparring inspect [RUN] [--nats URL] [--port P] [filters]` (handler `main`).

Routes: `/` the page; `/static/*` its script and style (package data, no CDN, no build step);
`/api/stream?<filters>` server-sent events, one `episode` event per matching episode summary
(the whole store replayed, then live), a `ready` event when the replay is done and `status`
events while the bus is unreachable; `/api/episodes/<id>` one full episode as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sparring.bus import Bus
from sparring.errors import ConfigError
from sparring.inspector._http import HttpServer, Request, Response, write_head
from sparring.inspector.errors import PortInUseError
from sparring.inspector.filters import EpisodeFilter
from sparring.inspector.ledger import Ledger
from sparring.inspector.source import connect, feed, open_run
from sparring.inspector.store import Entry, EpisodeStore

__all__ = ["InspectorServer", "main", "serve_inspector"]

STATIC_DIR = Path(__file__).with_name("static")
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_HEARTBEAT_S = 5.0
_REPLAY_CHUNK = 200


class InspectorServer:
    """The page and its API over an `EpisodeStore`; `url` is set once started."""

    def __init__(
        self,
        store: EpisodeStore,
        run: str,
        host: str = "127.0.0.1",
        port: int = 0,
        run_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.run = run
        self.run_dir = run_dir
        self._ledger = Ledger(run_dir / "trainer" / "trained.jsonl" if run_dir else None)
        self._http = HttpServer(self._route, host, port)
        self._static = _load_static()
        self._feeder: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The page's address, e.g. http://127.0.0.1:8265/."""
        return self._http.url

    async def start(self) -> None:
        """Listen; raises PortInUseError if the port is taken."""
        try:
            await self._http.start()
        except OSError as e:
            raise PortInUseError(self._http.host, self._http.port, e.strerror or str(e)) from e

    def follow(self, bus_url: str, bus: Bus | None = None) -> None:
        """Start reading the run's episode stream into the store (in the background)."""
        self._feeder = asyncio.create_task(feed(self.store, bus_url, self.run, bus))

    async def close(self) -> None:
        """Stop following the bus, end every open page stream, stop listening."""
        if self._feeder is not None:
            self._feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._feeder
        await self._http.close()

    async def _route(self, request: Request, writer: asyncio.StreamWriter) -> Response | None:
        path = request.path
        if path == "/":
            return self._static_response("index.html")
        if path.startswith("/static/"):
            return self._static_response(path.removeprefix("/static/"))
        if path == "/api/stream":
            return await self._stream(request, writer)
        if path.startswith("/api/episodes/"):
            return self._episode(path.removeprefix("/api/episodes/"))
        if path == "/favicon.ico":
            return Response(204)
        return Response(404, b"not found")

    def _static_response(self, name: str) -> Response:
        # Only files that were in the package's static folder at start-up are served; a path
        # is a dictionary key here, never joined onto the file system.
        item = self._static.get(name)
        if item is None:
            return Response(404, b"not found")
        body, content_type = item
        return Response(200, body, content_type)

    def _episode(self, episode_id: str) -> Response:
        entry = self.store.get(episode_id)
        if entry is None:
            return Response(404, b"no such episode (or no longer held): reload the page")
        trained = self._ledger.lookup([r.sample_id for r in entry.episode.rewards])
        body = b'{"seq":%d,"trained":%s,"episode":%s}' % (
            entry.seq,
            json.dumps(trained).encode(),
            entry.episode.model_dump_json().encode(),
        )
        return Response(200, body, "application/json")

    async def _stream(self, request: Request, writer: asyncio.StreamWriter) -> Response | None:
        try:
            wanted = EpisodeFilter.from_query(request.query)
        except ConfigError as e:
            return Response(400, str(e).encode())
        write_head(writer, 200, {"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"})
        if request.method == "HEAD":
            return None
        with self.store.subscribe() as queue:
            last = await self._replay(writer, wanted)
            status = (self.store.error, self.ended)
            while True:
                try:
                    entry = await asyncio.wait_for(queue.get(), _HEARTBEAT_S)
                except TimeoutError:
                    writer.write(b": ping\n\n")
                else:
                    if entry is None:
                        return None
                    if entry.seq > last and wanted.matches(entry.episode, entry.text):
                        writer.write(_event("episode", entry.summary, entry.seq))
                if (self.store.error, self.ended) != status:
                    status = (self.store.error, self.ended)
                    writer.write(_event("status", self._status()))
                await writer.drain()

    async def _replay(self, writer: asyncio.StreamWriter, wanted: EpisodeFilter) -> int:
        entries: list[Entry] = self.store.snapshot()
        for start in range(0, len(entries), _REPLAY_CHUNK):
            for entry in entries[start : start + _REPLAY_CHUNK]:
                if wanted.matches(entry.episode, entry.text):
                    writer.write(_event("episode", entry.summary, entry.seq))
            await writer.drain()
        writer.write(_event("ready", self._status()))
        await writer.drain()
        return entries[-1].seq if entries else 0

    def _status(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "held": len(self.store),
            "error": self.store.error,
            "ended": self.ended,
        }

    @property
    def ended(self) -> bool:
        """The run has finished: its launcher removed `nats.url` when it stopped (unknown
        without a run directory, e.g. a run on an external server: then never ended)."""
        return self.run_dir is not None and not (self.run_dir / "nats.url").exists()


def _event(name: str, data: dict[str, Any], seq: int | None = None) -> bytes:
    # json.dumps escapes newlines, so one event is always one `data:` line.
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def _load_static() -> dict[str, tuple[bytes, str]]:
    files: dict[str, tuple[bytes, str]] = {}
    for path in STATIC_DIR.iterdir():
        content_type = _CONTENT_TYPES.get(path.suffix)
        if path.is_file() and content_type is not None:
            files[path.name] = (path.read_bytes(), content_type)
    return files


async def serve_inspector(
    bus_url: str, run: str, host: str = "127.0.0.1", port: int = 0, run_dir: Path | None = None
) -> InspectorServer:
    """Serve the inspector for `run` on host:port (0 = any free port), following the bus live.

    Raises a BusError subclass if NATS cannot be reached, PortInUseError if the port is taken.
    """
    bus = await connect(bus_url, run)
    server = InspectorServer(EpisodeStore(), run, host, port, run_dir)
    try:
        await server.start()
    except BaseException:
        await bus.close()
        raise
    server.follow(bus_url, bus)
    return server


def main(args: argparse.Namespace) -> int:
    """`sparring inspect`: serve the page until Ctrl-C."""
    wanted = EpisodeFilter.from_args(args)
    run_dir = Path(args.run) if Path(args.run).is_dir() else None  # for the ledger and "ended"
    asyncio.run(_serve_until_stopped(args, wanted, run_dir))
    return 0


async def _serve_until_stopped(
    args: argparse.Namespace, wanted: EpisodeFilter, run_dir: Path | None
) -> None:
    async with open_run(args.run, args.nats) as (bus_url, run):
        server = await serve_inspector(bus_url, run, port=args.port, run_dir=run_dir)
        query = urlencode(wanted.query())
        print(f"sparring inspector for run '{run}': {server.url}{'?' + query if query else ''}")
        print("Ctrl-C stops it.", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await server.close()
