"""Helpers shared by the trainer tests: a tiny offline Qwen3 model and hand-made Samples; and by
the end-to-end runs: `sparring` as a real process, and its metrics.

Imported by the tests/test_trainer_*.py files (pytest puts tests/ on sys.path); it holds no tests.
The model is smaller than sparring.policy.tiny's (no tokenizer needed: the trainer sees only ids),
so each test module builds one in a few milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from sparring.messages import Role, Sample

VOCAB = 64


def build_model_dir(path: Path, seed: int = 0) -> Path:
    """Save a ~50k-parameter Qwen3 causal LM to `path` (from_pretrained loads it)."""
    from transformers import AutoModelForCausalLM, Qwen3Config

    torch.manual_seed(seed)
    config = Qwen3Config(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=128,
        tie_word_embeddings=True,
        pad_token_id=0,
    )
    AutoModelForCausalLM.from_config(config).save_pretrained(path)
    return path


def make_sample(
    group_id: str = "g",
    reward: float | None = 1.0,
    *,
    group_size: int = 1,
    role: str = Role.SOLVER,
    version: int = 0,
    prompt: Sequence[int] = (5, 6, 7),
    completion: Sequence[int] = (8, 9),
    logprobs: Sequence[float] | None = None,
    mask: Sequence[int] | None = None,
    run: str = "r",
) -> Sample:
    """A rewarded sample with small token ids (all < VOCAB)."""
    return Sample(
        run=run,
        game="arith",
        role=role,
        episode_id="e",
        group_id=group_id,
        group_size=group_size,
        prompt_ids=list(prompt),
        completion_ids=list(completion),
        logprobs=list(logprobs) if logprobs is not None else [-1.0] * len(completion),
        loss_mask=list(mask) if mask is not None else [1] * len(completion),
        policy_version=version,
        reward=reward,
    )


def group(
    group_id: str, rewards: Sequence[float], role: str = Role.SOLVER, **kw: object
) -> list[Sample]:
    """A complete group: one sample per reward, group_size = len(rewards)."""
    return [
        make_sample(group_id, r, group_size=len(rewards), role=role, **kw)  # type: ignore[arg-type]
        for r in rewards
    ]


async def until(check: Callable[[], bool], limit_s: float = 30.0) -> None:
    """Wait until `check()` holds, polling every 20 ms; fail the test after `limit_s`."""
    for _ in range(int(limit_s / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not reached within {limit_s} s")


def ledger_ids(run_dir: Path) -> list[str]:
    """Every sample id in a trainer's ledger (`trained.jsonl`), in the order trained."""
    path = run_dir / "trained.jsonl"
    if not path.exists():
        return []
    return [i for line in path.read_text().splitlines() for i in json.loads(line)["sample_ids"]]


def run_sparring(
    args: Sequence[str], cache: Path, timeout: float = 400
) -> subprocess.CompletedProcess[str]:
    """`sparring ARGS` as a real process with its own model cache (unbuffered, output kept)."""
    env = os.environ | {"SPARRING_CACHE": str(cache), "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "sparring.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def run_args(game: str, run_dir: Path, minutes: float, sets: dict[str, object]) -> list[str]:
    """`sparring run GAME` arguments for a test run: no inspector, each of `sets` a --set."""
    args = ["run", game, "--minutes", str(minutes), "--run-dir", str(run_dir), "--no-inspector"]
    for key, value in sets.items():
        args += ["--set", f"{key}={value}"]
    return args


SMALL_WORLD: dict[str, object] = {
    "game_params.world_articles": 60,
    "game_params.max_hops": 1,
    "game_params.warmup_mix": "{1: 1.0}",
    "game_params.warmup_probe": 10,
    "game_params.eval_questions": 10,
    "loop.eval_every": 3,
    "trainer.batch_groups": 4,
    "trainer.min_samples": 16,
}
"""Settings of the search games' end-to-end runs: a 60-article world of one-hop questions, small
probe and held-out sets, small trainer steps."""


def read_metrics(run_dir: Path, source: str) -> list[dict[str, Any]]:
    """The records of one source ("trainer", "eval", ...) in a run's metrics.jsonl, in order."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [m for m in map(json.loads, lines) if m["source"] == source]
