"""Trainer benchmark: the optimizer step's overhead, and how fast new weights reach a worker.

    .venv/bin/python bench/trainer.py [--model DIR] [--batch 64] [--prompt 16] [--completion 32]
                                      [--repeats 15] [--syncs 6] [--threads 1]

step_ratio: tokens/s of sparring's `train_step` (clipped surrogate, truncated IS, entropy and
stats) over a minimal hand-written policy-gradient step (forward, log-softmax, gather,
-(A * logp) token mean, backward, clip, AdamW) on the same padded batch of the tiny model.
Runs alternate and medians are compared, because the CPU is shared. Target >= 0.9. One torch
thread by default: on a shared 2-core machine two threads spin against other processes and
both steps run ~15x slower, which measures the contention, not the step.

weight_sync_s: from the end of a trainer step (its metrics line, written right after the step)
to a worker serving the new version: the real `Trainer` loop (checkpoint, ack, Object Store put,
KV bump) against an embedded nats-server, and a `TransformersPolicy` on the same host that
watches `bus.watch_policy()` and loads each version through `WeightsFetcher` (the trainer's
file, digest checked). Median over the syncs after
the first (which pays one-off warm-up). Target <= 1 s.

Prints its figures, then one JSON line: {"bench": "trainer", "step_ratio": ..., ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from sparring.bus import Bus, EmbeddedServer
from sparring.messages import Role, Sample
from sparring.policy import TransformersPolicy, build_tiny_model
from sparring.trainer import Trainer, TrainerConfig, collate, train_step
from sparring.trainer.batch import Batch
from sparring.trainer.model import build_optimizer, load_trainable
from sparring.weights import WeightsFetcher


def _samples(model: Any, n: int, prompt: int, completion: int, vocab: int) -> list[Sample]:
    rng = random.Random(0)
    out = []
    for i in range(n):
        p = [rng.randrange(4, vocab) for _ in range(prompt)]
        c = [rng.randrange(4, vocab) for _ in range(completion)]
        with torch.no_grad():
            logits = model(torch.tensor([p + c])).logits[0]
        logp = torch.log_softmax(logits.float(), -1)
        mu = [logp[prompt - 1 + j, t].item() for j, t in enumerate(c)]
        out.append(
            Sample(
                run="bench", game="arith", role=Role.SOLVER, episode_id="e", group_id=f"g{i // 8}",
                group_size=8, prompt_ids=p, completion_ids=c, logprobs=mu,
                loss_mask=[1] * completion, policy_version=0, reward=float(i % 2),
            )
        )  # fmt: skip
    return out


def _hand_step(model: Any, optimizer: torch.optim.Optimizer, b: Batch, start: int) -> None:
    """The minimal policy-gradient step the overhead is measured against."""
    logits = model(input_ids=b.input_ids, attention_mask=b.attention_mask).logits  # (B, L, V)
    logp = torch.log_softmax(logits[:, start:-1].float(), -1)
    logp = logp.gather(-1, b.targets.unsqueeze(-1)).squeeze(-1)  # (B, T)
    loss = -(b.advantages[:, None] * logp * b.loss_mask).sum() / b.loss_mask.sum()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()


def bench_step(model_dir: Path, args: argparse.Namespace) -> float:
    config = TrainerConfig(device="cpu", lr=1e-5)
    ours, hand = load_trainable(model_dir, config), load_trainable(model_dir, config)
    opt_ours, opt_hand = build_optimizer(ours, config), build_optimizer(hand, config)
    vocab = ours.config.vocab_size
    samples = _samples(ours, args.batch, args.prompt, args.completion, vocab)
    advantages = [1.0 if s.reward else -1.0 for s in samples]
    batch = collate(samples, advantages)
    start = batch.input_ids.shape[1] - batch.logits_to_keep
    t_ours, t_hand = [], []
    for i in range(args.repeats + 2):
        t0 = time.perf_counter()
        train_step(ours, opt_ours, batch, config)
        t1 = time.perf_counter()
        _hand_step(hand, opt_hand, batch, start)
        t2 = time.perf_counter()
        if i >= 2:  # warm-up
            t_ours.append(t1 - t0)
            t_hand.append(t2 - t1)
    tokens = batch.n_tokens
    ours_tps, hand_tps = tokens / statistics.median(t_ours), tokens / statistics.median(t_hand)
    print(f"step: {args.batch} samples, {tokens} trained tokens")
    print(f"  sparring train_step  median {statistics.median(t_ours) * 1e3:7.1f} ms  "
          f"{ours_tps:9.0f} tok/s")  # fmt: skip
    print(f"  hand-written PG step median {statistics.median(t_hand) * 1e3:7.1f} ms  "
          f"{hand_tps:9.0f} tok/s")  # fmt: skip
    return ours_tps / hand_tps


async def bench_sync(model_dir: Path, work: Path, syncs: int) -> list[float]:
    served: dict[int, float] = {}
    marks: dict[int, tuple[float, float, float]] = {}
    async with EmbeddedServer(work / "nats") as server:
        bus = await Bus.connect(server.url, run="bench", name="trainer")
        worker_bus = await Bus.connect(server.url, run="bench", name="worker")
        policy = TransformersPolicy(model_dir)

        fetcher = WeightsFetcher(worker_bus, policy, work / "worker")

        async def worker() -> None:
            async for pv in worker_bus.watch_policy():
                if pv.version <= policy.version:
                    continue  # the same version announced again with its bus copies
                seen = time.time()
                if await fetcher.load(pv) is None:
                    continue
                served[pv.version] = time.time()
                marks[pv.version] = (pv.created_at, seen, seen)

        config = TrainerConfig(device="cpu", batch_groups=1, checkpoint_every=1, publish_every=1)
        trainer = Trainer(config, model_dir, work / "run", bus)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(trainer.run(stop)), asyncio.create_task(worker())]
        gen = torch.Generator().manual_seed(0)
        for i in range(syncs):
            group = [
                Sample(
                    run="bench", game="arith", role=Role.SOLVER, episode_id="e", group_id=f"s{i}",
                    group_size=4, prompt_ids=torch.randint(4, 200, (16,), generator=gen).tolist(),
                    completion_ids=torch.randint(4, 200, (32,), generator=gen).tolist(),
                    logprobs=[-5.0] * 32, loss_mask=[1] * 32, policy_version=trainer.state.version,
                    reward=float(j % 2),
                )
                for j in range(4)
            ]  # fmt: skip
            await bus.publish_many(group)
            for _ in range(1000):
                if i + 1 in served:
                    break
                await asyncio.sleep(0.005)
        stop.set()
        await tasks[0]
        tasks[1].cancel()
        await asyncio.gather(tasks[1], return_exceptions=True)
        fetcher.close()
        await policy.aclose()
        await bus.close()
        await worker_bus.close()
    lines = [json.loads(x) for x in (work / "run" / "metrics.jsonl").read_text().splitlines()]
    step_end = {int(m["step"]): m["time"] - m["wall_s"] + m["step_time_s"] for m in lines}
    versions = [v for v in sorted(served) if v in step_end][1:] or sorted(served)
    parts = {
        "checkpoint + file written": [marks[v][0] - step_end[v] for v in versions],
        "KV watch notification": [marks[v][1] - marks[v][0] for v in versions],
        "digest check + load_weights": [served[v] - marks[v][2] for v in versions],
    }
    for name, values in parts.items():
        print(f"  {name:26s} median {statistics.median(values) * 1e3:6.1f} ms")
    return [served[v] - step_end[v] for v in sorted(served) if v in step_end]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, help="model folder (default: build the tiny model)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--prompt", type=int, default=16)
    p.add_argument("--completion", type=int, default=32)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--syncs", type=int, default=6)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_dir = args.model or build_tiny_model(work / "model", seed=0)
        ratio = bench_step(model_dir, args)
        print(f"  step_ratio (ours / hand-written tok/s) = {ratio:.3f}   target >= 0.9")
        syncs = asyncio.run(bench_sync(model_dir, work, args.syncs))
    steady = syncs[1:] or syncs
    print(f"weight sync, step end -> worker serving: {[round(s, 3) for s in syncs]} s")
    print(f"  median after the first {statistics.median(steady):.3f} s, max {max(steady):.3f} s"
          "   target <= 1 s")  # fmt: skip
    print(json.dumps({
        "bench": "trainer", "step_ratio": round(ratio, 3),
        "weight_sync_s": round(statistics.median(steady), 3),
        "weight_sync_max_s": round(max(steady), 3),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
