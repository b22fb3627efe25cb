"""`sparring bus-demo`: stream realistic Samples through an embedded NATS and print the rates.

    sparring bus-demo                    # embedded server in a temporary folder, 20,000 samples
    sparring bus-demo --nats nats://host:4222 --samples 50000 --tokens 2048

It starts the embedded nats-server (unless --nats), connects a Bus for a fresh run, publishes the
samples in pipelined batches, consumes and acks them from a durable consumer with progress bars,
prints both rates, and stops the server. `realistic_sample` is also what the bus benchmark and
tests send: ~200 prompt tokens and a completion of `tokens` tokens with logprobs and a loss mask.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from sparring.messages import Role, Sample, new_id

__all__ = ["main", "realistic_sample", "sample_batch"]


def realistic_sample(
    run: str, tokens: int = 1024, prompt_tokens: int = 200, rng: random.Random | None = None
) -> Sample:
    """A Sample shaped like a real solver call: random ids, logprobs and a tool-output gap."""
    rng = rng or random.Random(0)
    gap = range(tokens // 3, tokens // 3 + tokens // 10)  # tool output: not trained
    return Sample(
        run=run,
        game="arith",
        role=Role.SOLVER,
        episode_id=new_id(),
        group_id=new_id(),
        group_size=8,
        prompt_ids=[rng.randrange(32_000) for _ in range(prompt_tokens)],
        completion_ids=[rng.randrange(32_000) for _ in range(tokens)],
        logprobs=[-rng.expovariate(2.0) for _ in range(tokens)],
        loss_mask=[0 if i in gap else 1 for i in range(tokens)],
        policy_version=0,
        reward=1.0,
    )


def sample_batch(run: str, n: int, tokens: int = 1024, distinct: int = 16) -> list[Sample]:
    """`n` samples with their own ids, built from `distinct` random bodies (building each body
    token by token costs ~1 ms; the wire cost is the same)."""
    rng = random.Random(0)
    bodies = [realistic_sample(run, tokens, rng=rng) for _ in range(min(n, distinct))]
    return [
        bodies[i % len(bodies)].model_copy(update={"id": new_id(), "episode_id": new_id()})
        for i in range(n)
    ]


def main(args: argparse.Namespace) -> int:
    """Entry point of `sparring bus-demo`."""
    return asyncio.run(_demo(args.samples, args.tokens, args.nats, args.dir))


async def _demo(n: int, tokens: int, url: str | None, store: Path | None) -> int:
    from rich.console import Console

    from sparring.bus import Bus, EmbeddedServer

    console = Console()
    with tempfile.TemporaryDirectory(prefix="sparring-bus-demo-") as tmp:
        server = None if url else EmbeddedServer(store or Path(tmp) / "nats")
        if server is not None:
            url = await server.start()
            console.print(f"[bold]embedded nats-server[/] at {url}, store {server.store_dir}")
        assert url is not None
        try:
            bus = await Bus.connect(url, run=f"demo-{new_id()[-8:]}", name="bus-demo")
            try:
                await _stream(console, bus, n, tokens)
            finally:
                await bus.destroy()
                await bus.close()
        finally:
            if server is not None:
                await server.stop()
                console.print("server stopped")
    return 0


async def _stream(console: Any, bus: Any, n: int, tokens: int) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
    from rich.table import Table

    samples = sample_batch(bus.run, n, tokens)
    size = len(samples[0].completion_ids) * 9 + len(samples[0].prompt_ids) * 4
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        pub = progress.add_task("publish", total=n)
        t0 = time.perf_counter()
        for i in range(0, n, 1000):
            await bus.publish_many(samples[i : i + 1000])
            progress.advance(pub, len(samples[i : i + 1000]))
        t_pub = time.perf_counter() - t0
        con = progress.add_task("consume", total=n)
        consumer = await bus.consumer(Sample, durable="demo")
        t0 = time.perf_counter()
        got = 0
        while got < n:
            batch = await consumer.fetch(500, timeout=2.0)
            if not batch:
                break
            await consumer.ack_many(batch)
            got += len(batch)
            progress.advance(con, len(batch))
        t_con = time.perf_counter() - t0
    table = Table(title=f"{n:,} samples, {tokens:,} tokens, ~{size / 1024:.0f} KiB each")
    for col in ("", "msgs/s", "MiB/s", "seconds"):
        table.add_column(col, justify="right")
    for name, count, secs in (("publish", n, t_pub), ("consume + ack", got, t_con)):
        rate = count / secs if secs else 0.0
        table.add_row(name, f"{rate:,.0f}", f"{rate * size / 2**20:,.1f}", f"{secs:.2f}")
    console.print(table)
    if got < n:
        console.print(f"[red]only {got} of {n} samples came back[/]")
