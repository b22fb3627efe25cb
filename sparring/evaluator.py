"""Held-out evaluation during a run: every k policy versions, how well does the solver do?

The evaluator keeps its own copy of the policy, follows the announced versions, and on every
`loop.eval_every`-th one (and on the starting weights) loads them and runs the game's
`evaluate` over its fixed held-out set. The figures go to the bus as a Metric from source
"eval", so the dashboard, metrics.jsonl and the plots all see them like any other metric.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sparring.bus import Bus
from sparring.config import RunConfig
from sparring.graphs import Game
from sparring.messages import Metric, PolicyVersion
from sparring.worker import adapter_shape, load_announced

__all__ = ["Evaluator"]


class Evaluator:
    """Evaluates the solver on the held-out set as versions appear."""

    def __init__(
        self, bus: Bus, game: Game, game_config: Any, model: str, config: RunConfig, run: str
    ) -> None:
        self._bus = bus
        self._game = game
        self._game_config = game_config
        self._model = model
        self._config = config
        self._run = run
        self._loading: asyncio.Future[Any] | None = None
        self._done: set[int] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Evaluate the starting weights, then about every eval_every versions until `stop`."""
        if not self._game.has_evaluation:
            return
        if await self._bus.get_policy() is None:  # a resumed run already has its baseline
            await self._evaluate(None)
        every = self._config.loop.eval_every
        async for pv in self._bus.watch_policy():
            if stop.is_set():
                return
            due = max(self._done, default=0) + every
            if pv.version >= due:
                # Evaluate the newest weights, not the announcement we were handed: while an
                # evaluation runs the trainer moves on, and old weights may be gone.
                await self._evaluate(await self._bus.get_policy() or pv)

    async def final(self) -> None:
        """Evaluate the newest weights once more at the end, unless that was just done."""
        if not self._game.has_evaluation:
            return
        pv = await self._bus.get_policy()
        if pv is not None and pv.version not in self._done:
            await self._evaluate(pv)

    async def _evaluate(self, pv: PolicyVersion | None) -> None:
        policy = await self._load(pv)
        values = await self._game.evaluate(policy, self._game_config)
        version = int(policy.version)  # what it served: a version it could not get is not it
        self._done.add(version)
        await self._bus.publish(Metric(run=self._run, source="eval", step=version, values=values))

    async def _load(self, pv: PolicyVersion | None) -> Any:
        if self._loading is None:
            from sparring.policy import TransformersPolicy

            # One load, shared: if the evaluation that started it is cancelled, the thread goes
            # on importing, and a second concurrent load would race it inside transformers.
            self._loading = asyncio.ensure_future(
                asyncio.to_thread(
                    TransformersPolicy,
                    self._model,
                    device=self._config.policy.device,
                    adapter=adapter_shape(self._config),  # LoRA versions merged as they come
                )
            )
        policy = await asyncio.shield(self._loading)
        if pv is not None and pv.version > policy.version:
            await load_announced(self._bus, policy, pv)
        return policy
