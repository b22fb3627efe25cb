"""Rollout benchmark: what serving episodes through TransformersPolicy costs.

    .venv/bin/python bench/rollout.py [--model DIR] [--prompts 64] [--repeats 5] [--threads 2]

batched_vs_generate: the same N prompts sent as N concurrent `policy.generate` calls (dynamic
batching, logprobs recorded, per-call results) against one plain `model.generate` over all of
them, the ceiling for the batching layer. Figure: generated tokens/s of the first over the
second (target >= 0.8). Runs alternate and the medians are compared, because the CPU is shared.

Prints its figures, then one JSON line: {"bench": "rollout", "batched_vs_generate": ...}.
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

import torch

from sparring.policy import SamplingParams, TransformersPolicy, build_tiny_model

PARAMS = SamplingParams(max_new_tokens=32, temperature=1.0)


def _prompts(policy: TransformersPolicy, n: int) -> list[list[int]]:
    return [policy.encode(f"What is {i} + {3 * i + 1}? The answer is") for i in range(n)]


def _plain_generate(policy: TransformersPolicy, prompts: list[list[int]], new: int) -> int:
    """One model.generate over all prompts; returns tokens generated (EOS included)."""
    tok, model = policy.tokenizer, policy.model
    pad = tok.pad({"input_ids": prompts}, return_tensors="pt").to(model.device)
    eos = model.generation_config.eos_token_id
    eos = {eos} if isinstance(eos, int) else set(eos)
    with torch.no_grad():
        out = model.generate(
            **pad, max_new_tokens=new, do_sample=True, top_k=0, pad_token_id=tok.pad_token_id
        )
    total = 0
    for row in out[:, pad["input_ids"].shape[1] :].tolist():
        ends = [i for i, t in enumerate(row) if t in eos]
        total += ends[0] + 1 if ends else len(row)
    return total


async def _batched(policy: TransformersPolicy, prompts: list[list[int]]) -> int:
    gens = await asyncio.gather(*(policy.generate(p, PARAMS) for p in prompts))
    return sum(len(g.completion_ids) for g in gens)


def batched_vs_generate(model_dir: Path, n: int = 64, repeats: int = 5) -> dict[str, Any]:
    """Tokens/s of n concurrent policy calls over one plain batched generate of the same n."""
    policy = TransformersPolicy(model_dir, max_batch=max(n, 1))
    prompts = _prompts(policy, n)
    plain_rates, batched_rates = [], []

    async def run() -> None:
        await _batched(policy, prompts)  # warm-up: thread pool, kernels
        _plain_generate(policy, prompts, PARAMS.max_new_tokens)
        for _ in range(repeats):
            t = time.perf_counter()
            tokens = _plain_generate(policy, prompts, PARAMS.max_new_tokens)
            plain_rates.append(tokens / (time.perf_counter() - t))
            t = time.perf_counter()
            tokens = await _batched(policy, prompts)
            batched_rates.append(tokens / (time.perf_counter() - t))
        await policy.aclose()

    batches_before = policy.batches
    asyncio.run(run())
    plain, batched = statistics.median(plain_rates), statistics.median(batched_rates)
    return {
        "prompts": n,
        "plain_tokens_per_s": round(plain, 1),
        "batched_tokens_per_s": round(batched, 1),
        "generate_calls_per_round": (policy.batches - batches_before) / (repeats + 1),
        "ratio": round(batched / plain, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="model folder (default: build the tiny model)")
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or build_tiny_model(Path(tmp) / "tiny")
        b = batched_vs_generate(model_dir, args.prompts, args.repeats)
    print(
        f"batched_vs_generate: {b['prompts']} prompts x {PARAMS.max_new_tokens} new tokens: "
        f"plain generate {b['plain_tokens_per_s']} tok/s, {b['prompts']} concurrent policy calls "
        f"{b['batched_tokens_per_s']} tok/s in {b['generate_calls_per_round']} generate call(s) "
        f"each, ratio {b['ratio']} (target >= 0.8)"
    )
    print(json.dumps({"bench": "rollout", "batched_vs_generate": b["ratio"]}))


if __name__ == "__main__":
    main()
