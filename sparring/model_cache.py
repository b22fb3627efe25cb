"""The model a run starts from: the user's, or the tiny offline one, built once and cached.

With `policy.model` unset, `sparring run GAME` plays with a tiny model built here from nothing
(no hub download) and warmed up with a supervised pass over the game's demonstrations. The
warm-up runs until the game's readiness check passes (arith: the easy levels known, the frontier
half-known), because the model learns in a phase change whose timing varies from seed to seed
(docs/learning.md). The result is cached under `$SPARRING_CACHE` (default ~/.cache/sparring),
keyed by the game's demonstrations and the warm-up settings, so a second run starts at once.
Only a warm-up that passed the game's readiness check is cached: one cut short by its time or
step guard is used by that run alone (in a `.unready` folder, with a warning), never reused.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sparring.config import PolicyConfig
from sparring.graphs import Game, Readiness
from sparring.policy.warmup import WarmupReport

__all__ = ["cache_root", "ensure_model", "quiet_transformers", "warm_up_on_game"]

_RECIPE = "v3"  # bump when the tiny model or the warm-up changes, so old caches are not reused


def quiet_transformers() -> None:
    """No "Loading weights" bar each time a model loads: with hot reloads and several processes
    writing to one terminal or log, they drown what matters."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def cache_root() -> Path:
    return Path(os.environ.get("SPARRING_CACHE", Path.home() / ".cache" / "sparring")) / "models"


def ensure_model(policy: PolicyConfig, game: Game, game_config: Any, say: Any = print) -> str:
    """A model folder or hub id to start from; builds the tiny one if none is configured."""
    if policy.model is not None:
        return policy.model
    path = cache_root() / f"tiny-{game.name}-{_key(policy, game, game_config)}"
    if (path / "config.json").exists():
        say(f"model: cached tiny model {path}")
        return str(path)

    from sparring.policy.tiny import build_tiny_model

    tmp = path.with_name(path.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    say(f"model: building the tiny offline model for {game.name} (once; cached in {path})")
    build_tiny_model(tmp)
    if policy.warmup_max_steps > 0 and game.has_demonstrations:
        report = warm_up_on_game(
            tmp,
            game,
            game_config,
            max_steps=policy.warmup_max_steps,
            seconds=policy.warmup_seconds,
            check_every=policy.warmup_check_every,
            say=say,
        )
        if report.stopped_by != "until" and game.has_ready_check:
            # Not cached: how far a time-guarded pass gets depends on how busy the machine
            # was, and a cached half-trained model would be reused silently by every later
            # run. This run plays with it; the next one tries the warm-up again.
            unready = path.with_name(path.name + ".unready")
            shutil.rmtree(unready, ignore_errors=True)
            tmp.rename(unready)
            say(
                f"model: [yellow]warning[/]: the warm-up stopped by {report.stopped_by} before "
                "the game's readiness check passed; RL may have little to build on. Not "
                f"cached: this run uses {unready}; raise policy.warmup_seconds or "
                "policy.warmup_max_steps (see `sparring config`) and run again"
            )
            return str(unready)
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)  # atomic: a half-built model is never mistaken for a cached one
    return str(path)


def warm_up_on_game(
    model_dir: Path,
    game: Game,
    game_config: Any,
    *,
    max_steps: int,
    seconds: float,
    check_every: int = 25,
    seed: int = 0,
    say: Any = print,
) -> WarmupReport:
    """Supervised warm-up of `model_dir` on the game's demonstrations, until the game says the
    model is ready (or `max_steps` / `seconds` run out)."""
    from sparring.policy import TransformersPolicy
    from sparring.policy.warmup import warm_up

    def draw(rng: random.Random) -> Any:
        return game.demonstrations(rng, game_config)

    checks = 0

    def ready(model: Any, tokenizer: Any) -> bool:
        nonlocal checks
        checks += 1

        async def check() -> Readiness:
            policy = TransformersPolicy(model, tokenizer)
            try:
                return await game.readiness(policy, game_config)
            finally:
                await policy.aclose()

        said = asyncio.run(check())
        if said.figures:  # a warm-up of many minutes says where it stands at each check
            say(f"model: readiness at step {checks * check_every}: {said.summary()}")
        return said.ready

    gate = ready if game.has_ready_check else None
    say(f"model: warm-up on {game.name} demonstrations (at most {max_steps} steps)")
    report = warm_up(
        model_dir,
        draw,
        seconds=seconds,
        seed=seed,
        max_steps=max_steps,
        until=gate,
        check_every=check_every,
        label_smoothing=game.warmup_smoothing,
        batch_size=game.warmup_batch,
    )
    say(
        f"model: warmed up in {report.steps} steps ({report.seconds:.0f} s, stopped by "
        f"{report.stopped_by}), loss {report.first_loss:.2f} -> {report.final_loss:.2f}"
    )
    return report


def _as_warmup_sees(game_config: Any) -> Any:
    """`game_config` with every field marked as not read by the warm-up at its default."""
    if not isinstance(game_config, BaseModel):
        return game_config
    reset = {
        name: field.get_default(call_default_factory=True)
        for name, field in type(game_config).model_fields.items()
        if isinstance(field.json_schema_extra, dict)
        and field.json_schema_extra.get("warmup") is False
    }
    return game_config.model_copy(update=reset) if reset else game_config


def _key(policy: PolicyConfig, game: Game, game_config: Any) -> str:
    """Changes whenever what the warm-up would learn changes (its demonstrations or settings)."""
    # The game's config is in the key because its readiness bar (and anything else the
    # warm-up reads from it) decides what a cached model knows. Fields a game marks
    # `json_schema_extra={"warmup": False}` (who writes the questions in play, say) are read
    # at their defaults, so two runs that differ only in them share one warmed-up model: the
    # comparison bench/learning.py makes needs both arms to start from the same weights.
    game_config = _as_warmup_sees(game_config)
    h = hashlib.sha256(
        f"{_RECIPE}|{policy.warmup_max_steps}|{policy.warmup_check_every}|"
        f"{game.warmup_smoothing}|{game.warmup_batch}|{game_config!r}".encode()
    )
    if game.has_demonstrations:
        rng = random.Random(0)
        for _ in range(256):
            h.update(repr(game.demonstrations(rng, game_config)).encode())
    return h.hexdigest()[:12]
