"""`sparring init-model DIR`: build the tiny offline model, optionally warmed up on a game.

    sparring init-model runs/tiny                          # ~0.65M-param Qwen3 + local tokenizer
    sparring init-model runs/tiny --arch llama --seed 3
    sparring init-model runs/arith --warmup arith              # until the game says it is ready

Without --warmup the folder holds a randomly initialised model that loads with from_pretrained.
With --warmup GAME it then runs the supervised warm-up (policy/warmup.py) over examples drawn
from the game's `demonstrations`, so self-play starts from a model that knows the answer format.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

__all__ = ["main"]


def main(args: argparse.Namespace) -> int:
    """Build into args.dir (and warm up if asked); print what was built and how long it took."""
    from transformers.utils import logging as hf_logging

    from sparring.policy.tiny import build_tiny_model

    hf_logging.disable_progress_bar()  # the per-shard bars are noise for a 3 MB model
    start = time.perf_counter()
    out = build_tiny_model(Path(args.dir), arch=args.arch, seed=args.seed)
    print(_describe(out, time.perf_counter() - start))
    if args.warmup:
        _warm_up(out, args.warmup, args)
    return 0


def _describe(out: Path, seconds: float) -> str:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out)
    config = model.config
    return (
        f"built {config.model_type} model: {model.num_parameters() / 1e6:.2f}M params, vocab "
        f"{config.vocab_size}, {config.num_hidden_layers} layers x {config.hidden_size} "
        f"hidden, in {seconds:.1f} s -> {out}"
    )


def _warm_up(out: Path, game_spec: str, args: argparse.Namespace) -> None:
    from sparring.graphs.loading import load_game
    from sparring.model_cache import warm_up_on_game

    game = load_game(game_spec)
    warm_up_on_game(
        out,
        game,
        game.config_model(),
        max_steps=args.warmup_steps,
        seconds=args.warmup_seconds,
        seed=args.seed,
    )
    print(f"-> {out}")
