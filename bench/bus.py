"""Bus benchmark: sparring's typed bus against raw nats-py, same server, same bytes.

    .venv/bin/python bench/bus.py [--samples 20000] [--rounds 3]

Publishes N realistic Samples (1k-token completions with logprobs, ~200-token prompts) through
`Bus.publish_many` and consumes them with `Consumer.fetch` + `ack_many`; in the same run, against
the same embedded server and an identically configured stream, it publishes the same encoded bytes
with raw `js.publish_async` (same Nats-Msg-Id header, then waits for the acks) and consumes them
with raw `pull_subscribe().fetch(batch)` + `msg.ack()`. Rounds alternate which side goes first;
the figures are medians. Client CPU time per message is printed beside each rate: on a shared
machine it is steadier than the rates. Target (DESIGN.md): both ratios >= 0.9. Ends with one
JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import nats

from sparring.bus import Bus, EmbeddedServer
from sparring.bus._codec import encode
from sparring.bus_demo import sample_batch
from sparring.messages import Sample

BATCH = 1000  # messages per publish_many call (a worker publishes an episode's worth at a time)
FETCH = 500  # messages per pull


Rates = tuple[float, float, float, float]
"""publish msg/s, consume msg/s, client CPU us per published msg, per consumed msg."""


async def sparring_side(url: str, run: str, samples: list[Sample]) -> Rates:
    bus = await Bus.connect(url, run=run, name="bench-sparring")
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(samples), BATCH):
        await bus.publish_many(samples[i : i + BATCH])
    t_pub, c_pub = time.perf_counter() - t0, time.process_time() - c0

    consumer = await bus.consumer(Sample, durable="bench")
    got = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while got < len(samples):
        batch = await consumer.fetch(FETCH, timeout=2.0)
        if not batch:
            raise RuntimeError(f"sparring side: only {got} of {len(samples)} came back")
        await consumer.ack_many(batch)
        got += len(batch)
    t_con, c_con = time.perf_counter() - t0, time.process_time() - c0
    await bus.destroy()
    await bus.close()
    n = len(samples)
    return n / t_pub, got / t_con, c_pub / n * 1e6, c_con / n * 1e6


async def raw_side(url: str, run: str, payloads: list[tuple[str, bytes]]) -> Rates:
    setup = await Bus.connect(url, run=run, name="bench-setup")  # identical streams, then raw
    subject = setup.names.subject_of(sample_batch(run, 1, tokens=1)[0])
    stream = setup.names.stream("samples")
    nc = await nats.connect(url, pending_size=64 * 1024 * 1024)
    js = nc.jetstream()
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(payloads), BATCH):
        futures = [
            await js.publish_async(subject, data, headers={"Nats-Msg-Id": msg_id})
            for msg_id, data in payloads[i : i + BATCH]
        ]
        await asyncio.gather(*futures)
    t_pub, c_pub = time.perf_counter() - t0, time.process_time() - c0

    psub = await js.pull_subscribe(subject, durable="bench", stream=stream)
    got = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while got < len(payloads):
        msgs = await psub.fetch(FETCH, timeout=2.0)
        for m in msgs:
            await m.ack()
        got += len(msgs)
    t_con, c_con = time.perf_counter() - t0, time.process_time() - c0
    await nc.close()
    await setup.destroy()
    await setup.close()
    n = len(payloads)
    return n / t_pub, got / t_con, c_pub / n * 1e6, c_con / n * 1e6


async def bench(n: int, rounds: int, tokens: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sparring-bench-bus-") as tmp:
        async with EmbeddedServer(Path(tmp) / "nats") as server:
            samples = sample_batch("bench", n, tokens=tokens)
            payloads = [(s.id, encode(s)) for s in samples]
            keys = ("pub", "con", "pub_cpu_us", "con_cpu_us")
            rates: dict[str, list[float]] = {
                f"{side}_{k}": [] for side in ("sp", "raw") for k in keys
            }
            for r in range(rounds):
                order = ["raw", "sparring"] if r % 2 == 0 else ["sparring", "raw"]
                for side in order:
                    run = f"{side}-{r}"
                    if side == "raw":
                        got = await raw_side(server.url, run, payloads)
                    else:
                        got = await sparring_side(server.url, run, samples)
                    key = "raw" if side == "raw" else "sp"
                    for k, v in zip(keys, got, strict=True):
                        rates[f"{key}_{k}"].append(v)
                    print(
                        f"round {r} {side:8} publish {got[0]:7,.0f} msg/s ({got[2]:5.1f} us CPU)"
                        f"  consume {got[1]:7,.0f} msg/s ({got[3]:5.1f} us CPU)"
                    )
    med = {k: statistics.median(v) for k, v in rates.items()}
    return {
        "bench": "bus",
        "samples": n,
        "tokens": tokens,
        "bytes_per_sample": len(payloads[0][1]),
        "rounds": rounds,
        "publish_ratio": round(med["sp_pub"] / med["raw_pub"], 3),
        "consume_ratio": round(med["sp_con"] / med["raw_con"], 3),
        "sparring_publish_per_s": round(med["sp_pub"]),
        "raw_publish_per_s": round(med["raw_pub"]),
        "sparring_consume_per_s": round(med["sp_con"]),
        "raw_consume_per_s": round(med["raw_con"]),
        "sparring_publish_cpu_us": round(med["sp_pub_cpu_us"], 1),
        "raw_publish_cpu_us": round(med["raw_pub_cpu_us"], 1),
        "sparring_consume_cpu_us": round(med["sp_con_cpu_us"], 1),
        "raw_consume_cpu_us": round(med["raw_con_cpu_us"], 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--samples", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--tokens", type=int, default=1024)
    a = p.parse_args()
    out = asyncio.run(bench(a.samples, a.rounds, a.tokens))
    print(
        f"medians: publish {out['sparring_publish_per_s']:,} vs raw {out['raw_publish_per_s']:,} "
        f"msg/s (ratio {out['publish_ratio']}); consume {out['sparring_consume_per_s']:,} vs raw "
        f"{out['raw_consume_per_s']:,} msg/s (ratio {out['consume_ratio']})"
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
