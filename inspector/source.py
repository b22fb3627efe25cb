"""Where episodes come from: a run's episode stream on NATS, replayed from the start, then live.

`open_run(run_dir, nats_url)` yields (bus_url, run name): the given NATS server, the live run's
own server (its URL is in RUN/nats.url while `sparring run` runs), or else an
`EmbeddedServer` started on the run directory's own store (RUN/nats) so a finished run opens with
nothing else running. `feed(store, bus_url, run)` reads every episode into an `EpisodeStore`
until cancelled, reconnecting with back-off if the stream breaks (a viewer left open for hours
must not die with a network blip). Only a new episode resets the back-off: one that fails at
the same place each time would otherwise replay the whole stream every 0.5 s.

The run name is the one the launcher recorded in RUN/config.yaml, else the directory's name
(`runs/arith-20250101-120000` -> `arith-20250101-120000`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from sparring.bus import Bus, EmbeddedServer
from sparring.errors import BusError
from sparring.inspector.errors import RunNotFoundError
from sparring.inspector.store import EpisodeStore
from sparring.messages import Episode

__all__ = ["connect", "feed", "newest_run", "open_run", "run_name"]

log = logging.getLogger(__name__)

RUNS_ROOT = Path("runs")
_CLOSE_TIMEOUT_S = 5.0
_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)


def newest_run(root: Path = RUNS_ROOT) -> Path:
    """The most recently modified run directory under `root`."""
    runs = [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    if not runs:
        raise RunNotFoundError(root, "no run directories here: pass RUN (a run directory)")
    return max(runs, key=lambda p: p.stat().st_mtime)


def run_name(run: Path | str) -> str:
    """The run's name on the bus: `run:` in RUN/config.yaml (the launcher writes it), else the
    directory's base name (also when `run` is a bare name given with --nats)."""
    config = Path(run) / "config.yaml"
    if config.is_file():
        # One top-level key is all we need; reading it by line keeps YAML out of the inspector.
        found = re.search(r"^run:[ \t]*(.+?)[ \t]*$", config.read_text(), re.MULTILINE)
        if found and found.group(1) not in ("null", "~"):
            return found.group(1).strip("'\"")
    name = Path(run).name
    if not name:
        raise RunNotFoundError(Path(run), "cannot tell the run's name: pass the run directory")
    return name


@asynccontextmanager
async def open_run(run: Path | None, nats_url: str | None) -> AsyncIterator[tuple[str, str]]:
    """Yield (bus_url, run name) for a run directory, starting its embedded store if needed."""
    if nats_url is not None:
        if run is None:
            raise RunNotFoundError(Path("."), "with --nats, name the run (its directory or name)")
        yield nats_url, run_name(run)
        return
    run_dir = run if run is not None else newest_run()
    live_url = await _live_server(run_dir)
    if live_url is not None:  # the run is going on: read from its own server
        yield live_url, run_name(run_dir)
        return
    store_dir = run_dir / "nats"
    if not store_dir.is_dir():
        raise RunNotFoundError(
            run_dir, "holds no NATS store (RUN/nats): pass a run directory, or --nats URL"
        )
    try:
        async with EmbeddedServer(store_dir) as server:
            yield server.url, run_name(run_dir)
    except BusError as e:
        raise RunNotFoundError(
            run_dir,
            f"could not open its NATS store ({e}); if the run is still live, pass --nats URL",
        ) from e


async def _live_server(run_dir: Path) -> str | None:
    """The URL in RUN/nats.url (written by `sparring run` while it runs), if it answers."""
    path = run_dir / "nats.url"
    if not path.is_file():
        return None
    url = path.read_text().strip()
    found = re.match(r"nats://([^:/]+):(\d+)", url)
    if found is None:
        return None
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(found.group(1), int(found.group(2))), 1.0
        )
    except (OSError, TimeoutError):
        return None  # left behind by a run that crashed
    writer.close()
    return url


async def connect(bus_url: str, run: str) -> Bus:
    """A bus connection for reading `run` (raises BusError subclasses with what to do)."""
    return await Bus.connect(bus_url, run=run, name="inspector")


async def feed(
    store: EpisodeStore,
    bus_url: str,
    run: str,
    bus: Bus | None = None,
    on_episode: Callable[[Episode], None] | None = None,
) -> None:
    """Read the run's episodes into `store` (and `on_episode`) until cancelled.

    `bus`, if given, is used (and closed) first; every reconnection opens a new one.
    """
    attempt = 0
    while True:
        try:
            if bus is None:
                bus = await connect(bus_url, run)
            try:
                store.fail(None)
                async for episode in bus.follow(Episode, from_start=True):
                    if store.add(episode) is None:
                        continue  # replayed after a reconnection: not a sign of health
                    attempt = 0  # a new episode: the stream works again, so no back-off
                    if on_episode is not None:
                        on_episode(episode)
            finally:
                await _close_quietly(bus)
                bus = None
            problem = "episode stream ended"
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a broken stream is retried; the page shows why meanwhile
            problem = f"episode stream interrupted ({type(e).__name__}: {e})"
        delay = _BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)]
        attempt += 1
        store.fail(f"{problem}; retrying in {delay:g} s")
        log.warning("inspector: %s; retrying in %.1fs", problem, delay)
        await asyncio.sleep(delay)


async def _close_quietly(bus: Bus) -> None:
    """Close a reader's connection; a reader has nothing to flush, so errors do not matter."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(bus.close(), _CLOSE_TIMEOUT_S)
