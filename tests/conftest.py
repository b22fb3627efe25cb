"""Shared fixtures: one real embedded nats-server for the whole session, a fresh run per test.

`nats_url` starts `EmbeddedServer` (JetStream, 127.0.0.1, port 0) once per session and stops it at
the end; `run_name` gives each test its own run, so tests never share streams or consumers.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from browser_support import browser, inspector, page  # noqa: F401 - the browser tests' fixtures

from sparring.bus import Bus, BusConfig, EmbeddedServer

_runs = itertools.count()


@pytest.fixture(scope="session")
async def nats_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedServer]:
    """The session's nats-server (tests that restart it use their own, not this one)."""
    server = EmbeddedServer(tmp_path_factory.mktemp("nats"))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
def nats_url(nats_server: EmbeddedServer) -> str:
    """URL of the session's real nats-server."""
    return nats_server.url


@pytest.fixture
def run_name(request: pytest.FixtureRequest) -> str:
    """A run name no other test uses (valid as a NATS name token)."""
    return f"t{os.getpid()}-{next(_runs)}"


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """A fresh folder for a test's own embedded server."""
    return tmp_path / "nats"


@pytest.fixture
async def bus(nats_url: str, run_name: str) -> AsyncIterator[Bus]:
    """A Bus on the session's server for this test's own run (ack_wait 1 s, for redelivery)."""
    b = await Bus.connect(nats_url, run=run_name, config=BusConfig(ack_wait_s=1.0), name="test")
    yield b
    await b.close()
