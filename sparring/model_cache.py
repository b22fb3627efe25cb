"""The model a run starts from: the user's, or the tiny offline one, built once and cached.

With `policy.model` unset, `sparring run GAME` plays with a tiny model built here from nothing
(no hub download) and warmed up with a short supervised pass over the game's demonstrations.
Building and warming takes a couple of minutes on two cores, so the result is cached under
`$SPARRING_CACHE` (default ~/.cache/sparring/models), keyed by the game and the warm-up recipe.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

from sparring.config import PolicyConfig
from sparring.graphs import Game

__all__ = ["cache_root", "ensure_model"]

_RECIPE = "v1"  # bump when the tiny model or the warm-up changes, so old caches are not reused


def cache_root() -> Path:
    return Path(os.environ.get("SPARRING_CACHE", Path.home() / ".cache" / "sparring")) / "models"


def ensure_model(policy: PolicyConfig, game: Game, game_config: Any, say: Any = print) -> str:
    """A model folder or hub id to start from; builds the tiny one if none is configured."""
    if policy.model is not None:
        return policy.model
    key = f"tiny-{game.name}-warm{int(policy.warmup_seconds)}s-{_RECIPE}"
    path = cache_root() / key
    if (path / "config.json").exists():
        say(f"model: cached tiny model {path}")
        return str(path)

    from sparring.policy.tiny import build_tiny_model
    from sparring.policy.warmup import warm_up

    tmp = path.with_name(key + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    say(f"model: building the tiny offline model for {game.name} (once; cached in {path})")
    build_tiny_model(tmp)
    if policy.warmup_seconds > 0 and game.has_demonstrations:
        seconds = policy.warmup_seconds
        say(f"model: supervised warm-up on {game.name} demonstrations, {seconds:.0f} s")

        def example(rng: random.Random) -> Any:
            return game.demonstrations(rng, game_config)

        warm_up(tmp, example, seconds=policy.warmup_seconds)
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)  # atomic: a half-built model is never mistaken for a cached one
    return str(path)
