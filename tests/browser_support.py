"""The inspector in a real headless Chromium: the fixtures the browser tests share.

Chromium is the distribution's (/usr/bin/chromium, or $SPARRING_CHROMIUM): playwright's own
browser download does not work offline. scripts/setup_browser.sh installs it; without it the
browser tests are skipped, saying so (`needs_chromium`). conftest.py makes the fixtures
(`browser`, `inspector`, `page`) every test's to ask for; none starts unless a test asks.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from sparring.inspector import InspectorServer, serve_inspector

CHROMIUM = os.environ.get("SPARRING_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}: run scripts/setup_browser.sh"
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        await b.close()


@pytest_asyncio.fixture(loop_scope="session")
async def inspector(nats_url: str, run_name: str) -> AsyncIterator[InspectorServer]:
    server = await serve_inspector(nats_url, run_name)
    yield server
    await server.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Any, inspector: InspectorServer) -> AsyncIterator[Any]:
    """The inspector page, live; the test fails if the page raised a script error meanwhile.
    The page's policy must allow only its own scripts (no inline script runs)."""
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    p = await context.new_page()
    p.set_default_timeout(5_000)
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    response = await p.goto(inspector.url)
    assert (
        response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    )
    await p.wait_for_selector("#live[data-state=live]")
    yield p
    await context.close()
    assert errors == [], errors  # no script error on the page during the test
