"""Rollout benchmark: what serving episodes through TransformersPolicy costs.

    .venv/bin/python bench/rollout.py [--model DIR] [--prompts 64] [--repeats 5] [--threads 2]

batched_vs_generate: the same N prompts sent as N concurrent `policy.generate` calls (dynamic
batching, logprobs recorded, per-call results) against one plain `model.generate` over all of
them, the ceiling for the batching layer. Figure: generated tokens/s of the first over the
second (target >= 0.8). Runs alternate and the medians are compared, because the CPU is shared.

concurrency_speedup: 32 arith episodes played at once (asyncio; their policy calls merged into
batches by the backend) against the same 32 played one after another. Target >= 8x.

orchestration_overhead: the share of an episode's wall time spent outside the model: the same
episodes (greedy, so both sides generate the same tokens) through `play_episode` (LangGraph,
recording, parsing, rewards, the Episode record) against the bare policy calls in the same
order and concurrency (one proposer call, then the n solver calls at once). Target <= 0.05.

In both, the proposer is a scripted policy that always writes a valid expression, so every
episode reaches its n solvers on the real model (an untrained proposer would end most episodes
after one call, and the figures would measure nothing).

Prints its figures, then one JSON line: {"bench": "rollout", "concurrency_speedup": ...,
"batched_vs_generate": ..., "orchestration_overhead": ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from sparring.graphs import Policies, load_game, play_episode
from sparring.graphs.arith.heldout import random_expression
from sparring.messages import ChatMessage, Role, Task
from sparring.policy import SamplingParams, ScriptedPolicy, TransformersPolicy, build_tiny_model
from sparring.roles.proposer import backward_chain, proposer_messages
from sparring.roles.solver import solver_messages
from sparring.tools.arith import evaluate

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


def _valid_proposer(seed: int = 0) -> ScriptedPolicy:
    """Writes, for 'target T ops D', a random D-operation expression whose last digit is T."""
    rng = random.Random(seed)

    def write(messages: list[ChatMessage]) -> str:
        target, ops = (int(w) for w in re.findall(r"\d+", messages[-1].content)[:2])
        while True:
            expression = random_expression(rng, ops)
            if evaluate(expression).value % 10 == target:
                return backward_chain(expression)  # the proposer shows its work

    return ScriptedPolicy(write)


def _tasks(n: int, seed: int = 0) -> list[Task]:
    rng = random.Random(seed)
    return [
        Task(run="bench", game="arith", params={"target": rng.randrange(10), "difficulty": 3})
        for _ in range(n)
    ]


def concurrency_speedup(model_dir: Path, episodes: int = 32) -> dict[str, Any]:
    """Episodes/s of `episodes` arith episodes at once over the same ones one at a time."""
    game = load_game("arith")
    cfg = game.config_model()
    policy = TransformersPolicy(model_dir, max_batch=256)
    graph = game.build(Policies(policy, {Role.PROPOSER: _valid_proposer()}), cfg)
    tasks = _tasks(episodes)

    async def run() -> tuple[float, float]:
        await play_episode(game, graph, tasks[0], cfg)  # warm-up
        t = time.perf_counter()
        for task in tasks:
            await play_episode(game, graph, task, cfg)
        serial = time.perf_counter() - t
        t = time.perf_counter()
        await asyncio.gather(*(play_episode(game, graph, task, cfg) for task in tasks))
        concurrent = time.perf_counter() - t
        await policy.aclose()
        return serial, concurrent

    serial, concurrent = asyncio.run(run())
    return {
        "episodes": episodes,
        "serial_episodes_per_s": round(episodes / serial, 2),
        "concurrent_episodes_per_s": round(episodes / concurrent, 2),
        "speedup": round(serial / concurrent, 2),
    }


def orchestration_overhead(model_dir: Path, episodes: int = 16) -> dict[str, Any]:
    """Share of episode wall time outside the policy calls (greedy: identical work both ways)."""
    game = load_game("arith")
    greedy = SamplingParams(max_new_tokens=24, temperature=0.0)
    cfg = game.config_model(proposer=greedy, solver=greedy)
    policy = TransformersPolicy(model_dir, max_batch=64)
    proposer = _valid_proposer()
    graph = game.build(Policies(policy, {Role.PROPOSER: proposer}), cfg)
    tasks = _tasks(episodes, seed=1)

    async def bare(task: Task, expression: str) -> None:
        target, ops = task.params["target"], task.params["difficulty"]
        await proposer.generate(proposer_messages(int(str(target)), int(str(ops))), greedy)
        messages = solver_messages(expression)
        await asyncio.gather(*(policy.generate(messages, greedy) for _ in range(cfg.n_solvers)))

    async def run() -> tuple[float, float]:
        await play_episode(game, graph, tasks[0], cfg)  # warm-up
        t_graph = t_bare = 0.0
        for task in tasks:
            t = time.perf_counter()
            outcome = await play_episode(game, graph, task, cfg)
            t_graph += time.perf_counter() - t
            expression = outcome.episode.turns[0].completion
            t = time.perf_counter()
            await bare(task, expression)
            t_bare += time.perf_counter() - t
        await policy.aclose()
        return t_graph, t_bare

    t_graph, t_bare = asyncio.run(run())
    return {
        "episodes": episodes,
        "play_episode_ms": round(1000 * t_graph / episodes, 2),
        "bare_calls_ms": round(1000 * t_bare / episodes, 2),
        "overhead": round((t_graph - t_bare) / t_graph, 4),
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
        c = concurrency_speedup(model_dir)
        o = orchestration_overhead(model_dir)
    print(
        f"batched_vs_generate: {b['prompts']} prompts x {PARAMS.max_new_tokens} new tokens: "
        f"plain generate {b['plain_tokens_per_s']} tok/s, {b['prompts']} concurrent policy calls "
        f"{b['batched_tokens_per_s']} tok/s in {b['generate_calls_per_round']} generate call(s) "
        f"each, ratio {b['ratio']} (target >= 0.8)"
    )
    print(
        f"concurrency_speedup: {c['episodes']} arith episodes one at a time "
        f"{c['serial_episodes_per_s']} episodes/s, all at once {c['concurrent_episodes_per_s']} "
        f"episodes/s: {c['speedup']}x (target >= 8)"
    )
    print(
        f"orchestration_overhead: play_episode {o['play_episode_ms']} ms, the bare policy calls "
        f"{o['bare_calls_ms']} ms per episode: {o['overhead']:.1%} overhead (target <= 5%)"
    )
    figures = {
        "bench": "rollout",
        "concurrency_speedup": c["speedup"],
        "batched_vs_generate": b["ratio"],
        "orchestration_overhead": o["overhead"],
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
