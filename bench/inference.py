"""Inference backends side by side: TransformersPolicy against VLLMPolicy on the same model.

    .venv-vllm/bin/python bench/inference.py [--model DIR] [--tokens 32] [--repeats 3]

Needs vLLM, so it runs in the vLLM venv (`scripts/setup.sh --vllm`). Both backends serve the
same tiny model (built offline unless --model is given) in float32, with the same prompts sent
as N concurrent `generate` calls (N = 1, 8, 64), sampling at temperature 1 up to a fixed
number of new tokens (no stop string; tokens counted as each backend generated them, EOS
included). Figures per N: completions/s and generated tokens/s of each; the headline ratio
is vLLM's tokens/s over transformers' at 64 concurrent calls, both measured in this run,
repeats alternated and the medians compared because the CPU is shared.

weight_update_s: from `load_weights(new safetensors bytes)` called with 8 calls in flight to
the first completed call tagged with the new version (the drain of the in-flight calls, the
load and a one-token generation included; the bus transfer is bench/weights.py's business),
median over repeats, for each backend.

At the tiny model's size on two cores the comparison says little about GPUs (vLLM's paged
attention and scheduler pay off at real sizes); the point is that the figure exists and that
the GPU path is this same code. Ends with one JSON line:
{"bench": "inference", "vllm_vs_transformers_tokens_per_s": ..., "weight_update_s": ...}.
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

CONCURRENCY = (1, 8, 64)


async def _round(policy: Any, prompts: list[list[int]], params: Any) -> tuple[float, int]:
    start = time.perf_counter()
    gens = await asyncio.gather(*(policy.generate(p, params) for p in prompts))
    return time.perf_counter() - start, sum(len(g.completion_ids) for g in gens)


async def _update_latency(policy: Any, blob: bytes, version: int, prompt: list[int]) -> float:
    from sparring.policy import SamplingParams

    busy = SamplingParams(max_new_tokens=64, temperature=1.0)
    in_flight = [asyncio.create_task(policy.generate(prompt, busy)) for _ in range(8)]
    await asyncio.sleep(0.05)
    start = time.perf_counter()
    update = asyncio.create_task(policy.load_weights(blob, version))
    await asyncio.sleep(0)
    gen = await policy.generate(prompt, SamplingParams(max_new_tokens=1))
    took = time.perf_counter() - start
    await update
    await asyncio.gather(*in_flight)
    if gen.policy_version != version:
        raise SystemExit(
            f"the call after the update was tagged {gen.policy_version}, not {version}"
        )
    return took


async def main(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from safetensors.torch import save

    from sparring.policy import SamplingParams, TransformersPolicy, build_tiny_model
    from sparring.policy.vllm_backend import VLLMPolicy

    torch.set_num_threads(args.threads)
    model_dir = args.model or build_tiny_model(Path(tempfile.mkdtemp()) / "tiny")
    print(f"model: {model_dir}", flush=True)
    hf = TransformersPolicy(model_dir, device="cpu", max_batch=64)
    t0 = time.perf_counter()
    vllm = VLLMPolicy.start(model_dir)
    print(f"vLLM engine started in {time.perf_counter() - t0:.1f} s", flush=True)
    backends = {"transformers": hf, "vllm": vllm}
    params = SamplingParams(max_new_tokens=args.tokens, temperature=1.0)
    base = hf.encode("What is 12 + 30? The answer is")
    figures: dict[str, dict[str, dict[str, float]]] = {}
    for n in CONCURRENCY:
        prompts = [base + hf.encode(f" {i}") for i in range(n)]
        for policy in backends.values():  # warm both on this shape
            await _round(policy, prompts, params)
        seconds: dict[str, list[float]] = {name: [] for name in backends}
        tokens: dict[str, list[int]] = {name: [] for name in backends}
        for repeat in range(args.repeats):
            for name, policy in backends.items():
                s, t = await _round(policy, prompts, params)
                seconds[name].append(s)
                tokens[name].append(t)
            print(f"  {n:>2} concurrent: repeat {repeat + 1}/{args.repeats}", flush=True)
        figures[str(n)] = {}
        for name in backends:
            s = statistics.median(seconds[name])
            t = statistics.median(tokens[name])
            figures[str(n)][name] = {"completions_per_s": n / s, "tokens_per_s": t / s}
        row = figures[str(n)]
        print(
            f"{n:>2} concurrent: transformers {row['transformers']['tokens_per_s']:7.0f} tok/s, "
            f"vLLM {row['vllm']['tokens_per_s']:7.0f} tok/s "
            f"(x{row['vllm']['tokens_per_s'] / row['transformers']['tokens_per_s']:.2f})",
            flush=True,
        )
    state = {
        k: (v + 0.01 * torch.randn_like(v)).contiguous()
        for k, v in hf.model.state_dict().items()
        if k != "lm_head.weight"  # tied: saved as the embedding alone, as the trainer does
    }
    blob = bytes(save(state))
    updates: dict[str, float] = {}
    for name, policy in backends.items():
        took = [await _update_latency(policy, blob, v, base) for v in range(1, args.repeats + 1)]
        updates[name] = statistics.median(took)
        print(f"weight update to first token, {name}: {updates[name] * 1000:.0f} ms", flush=True)
    await vllm.aclose()
    await hf.aclose()
    at64 = figures["64"]
    return {
        "bench": "inference",
        "vllm_vs_transformers_tokens_per_s": at64["vllm"]["tokens_per_s"]
        / at64["transformers"]["tokens_per_s"],
        "weight_update_s": updates["vllm"],
        "weight_update_transformers_s": updates["transformers"],
        "per_concurrency": figures,
        "tokens": args.tokens,
        "threads": args.threads,
    }


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model folder (default: the tiny model)")
    parser.add_argument("--tokens", type=int, default=32, help="new tokens per call")
    parser.add_argument("--repeats", type=int, default=3, help="alternated repeats per figure")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (transformers)")
    result = asyncio.run(main(parser.parse_args()))
    print(json.dumps(result))


if __name__ == "__main__":
    cli()
