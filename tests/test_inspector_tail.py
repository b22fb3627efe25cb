"""`sparring tail`: episodes printed in the terminal as they arrive, over a real nats-server."""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
import time

from rich.console import Console

from sparring.bus import Bus
from sparring.inspector.examples import example_episode
from sparring.inspector.filters import EpisodeFilter
from sparring.inspector.tail import clean, render_episode, tail


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, color_system=None, highlight=False), out


async def _wait_for(out: io.StringIO, text: str) -> None:
    deadline = time.monotonic() + 5
    while text not in out.getvalue():
        assert time.monotonic() < deadline, f"{text!r} never printed:\n{out.getvalue()}"
        await asyncio.sleep(0.02)


async def test_tail_prints_stored_then_live_episodes_that_pass_its_filters(
    nats_url: str, run_name: str, bus: Bus
) -> None:
    await bus.publish(example_episode(run_name, seed="1111", solved=[True]))
    await bus.publish(example_episode(run_name, seed="2222", solved=[False]))
    console, out = _console()
    task = asyncio.create_task(tail(nats_url, run_name, EpisodeFilter(verdict="solved"), console))
    try:
        await _wait_for(out, "seed=1111")
        await bus.publish(example_episode(run_name, seed="3333", solved=[False, True]))
        await _wait_for(out, "seed=3333")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    text = out.getvalue()
    assert "seed=2222" not in text
    assert "solver" in text and "✓ solved" in text and "reward 1" in text
    assert "⚙ search query=Ada Lovelace algorithm" in text


def test_model_text_can_neither_inject_rich_markup_nor_terminal_control_codes() -> None:
    hostile = "[bold red]pwned[/] \x1b[2J\x1b]0;title\x07 \u202eevil"
    console, out = _console()
    console.print(render_episode(example_episode(answer=hostile)))
    text = out.getvalue()
    assert "[bold red]pwned[/]" in text
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b[2J" in text and "\\u202eevil" in text
    assert clean("a\n\tb\x00") == "a b\\x00"


async def test_the_tail_command_follows_a_run_with_filters_from_the_command_line(
    nats_url: str, run_name: str, bus: Bus
) -> None:
    cmd = [sys.executable, "-m", "sparring.cli", "tail", run_name, "--nats", nats_url]
    proc = await asyncio.create_subprocess_exec(
        *cmd, "--game", "search", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    await bus.publish(example_episode(run_name, game="arith", seed="4444"))
    await bus.publish(example_episode(run_name, game="search", seed="5555"))
    seen = ""
    try:
        async with asyncio.timeout(20):
            while "seed=5555" not in seen:
                line = await proc.stdout.readline()
                assert line, (await proc.stderr.read()).decode()
                seen += line.decode()
    finally:
        proc.terminate()
        await proc.wait()
    assert "seed=4444" not in seen
