"""The rollout worker: plays a game's episodes many at a time and streams what happened.

One worker process holds one copy of the policy (its calls from concurrent episodes are batched
by the backend), plays `concurrency` episodes at once, publishes each episode's Samples and its
Episode record, and reloads new weights as soon as the trainer announces them. It pauses while
the trainer's backlog (samples queued or held, not yet trained) exceeds `max_backlog`: when the
trainer is the slower side, samples made now would only wait and go stale.

The launcher starts it as `python -m sparring.worker --url URL --run-dir DIR --index I`; several
machines can run more of them against the same NATS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
import traceback
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from sparring.bus import Bus, BusConfig
from sparring.bus.errors import ConnectionLostError
from sparring.config import RunConfig, WorkerConfig, load_config
from sparring.errors import BusError
from sparring.graphs import EpisodeOutcome, Game, Policies, load_game, play_episode
from sparring.graphs.spanning import SpanGrouper
from sparring.messages import Metric, PolicyVersion, Sample, Task
from sparring.policy import Policy
from sparring.policy.base import AdapterShape
from sparring.policy.factory import close_policy, start_policy
from sparring.weights import WeightsFetcher, load_announced

__all__ = ["Worker", "load_announced", "main"]

_REPORT_EVERY_S = 5.0


class _Window:
    """Running sums of what the worker saw since its last metric report."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.episodes = 0
        self.samples = 0
        self.errors = 0
        self.stats: dict[str, list[float]] = defaultdict(list)
        self.rewards: dict[str, list[float]] = defaultdict(list)

    def add(self, outcome: EpisodeOutcome) -> None:
        self.episodes += 1
        self.samples += len(outcome.samples)
        self.errors += bool(outcome.episode.errors)
        for key, value in outcome.episode.stats.items():
            self.stats[key].append(value)
        for r in outcome.episode.rewards:
            self.rewards[r.role].append(r.reward)

    def values(self, version: int) -> dict[str, float]:
        seconds = max(time.monotonic() - self.start, 1e-9)
        out = {
            "episodes_per_s": self.episodes / seconds,
            "samples_per_s": self.samples / seconds,
            "episodes": float(self.episodes),
            "episode_errors": float(self.errors),
            "policy_version": float(version),
        }
        out |= {f"stat/{k}": sum(v) / len(v) for k, v in self.stats.items() if v}
        out |= {f"reward/{k}": sum(v) / len(v) for k, v in self.rewards.items() if v}
        return out


class Worker:
    """Plays episodes of one game on one policy and publishes them to the bus."""

    def __init__(
        self,
        bus: Bus,
        game: Game,
        game_config: Any,
        policy: Policy,
        config: WorkerConfig,
        name: str,
        run: str,
        reload: Callable[[PolicyVersion], Awaitable[None]],
        trainer_durable: str = "trainer",
        state_dir: Path | None = None,
        overrides: Mapping[str, Policy] | None = None,
    ) -> None:
        self._bus = bus
        self._game = game
        self._game_config = game_config
        self._policy = policy
        self._config = config
        self._name = name
        self._run = run
        self._reload = reload  # loads the weights a PolicyVersion announces
        # overrides: roles bound to their own (frozen) policy; the shared one plays the rest
        self._graph = game.build(Policies(default=policy, overrides=overrides or {}), game_config)
        # state_dir: where a stateful task source (the code game's buffer) keeps what it learned
        self._source = game.task_source(game_config, seed=config.seed, state_dir=state_dir)
        self._spans = SpanGrouper(game.roles, prefix=name)  # roles grouped across episodes
        self._trainer_durable = trainer_durable
        self._room = asyncio.Event()
        self._room.set()
        self._window = _Window()
        self._failure: BaseException | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Play until `stop` is set; in-flight episodes finish and are published.

        A background task that fails (a reload that raises, a refused weights format) stops the
        play loops, publishes a Metric with `failed: 1.0` and re-raises here: a worker that
        played on with old weights would only feed the trainer stale samples, silently. A bus
        error of a play loop (the server died: ConnectionLostError) is raised alone, not in an
        exception group, and without the reports it would wait on in vain."""
        watcher = asyncio.create_task(self._supervised("weight watch", self._watch_weights, stop))
        reporter = asyncio.create_task(self._supervised("reporter", self._report, stop))
        pacer = asyncio.create_task(self._supervised("backlog pacer", self._watch_backlog, stop))
        try:
            try:
                async with asyncio.TaskGroup() as group:
                    for _ in range(self._config.concurrency):
                        group.create_task(self._play_loop(stop))
                # Groups still spanning episodes close as they are: smaller, but complete.
                await self._bus.publish_many(self._spans.flush())
            except* BusError as bus_errors:
                self._failure = self._failure or _first(bus_errors)
        finally:
            for task in (watcher, reporter, pacer):
                task.cancel()
            await asyncio.gather(watcher, reporter, pacer, return_exceptions=True)
            if self._failure is None:
                await self._publish_report()
        if self._failure is not None:
            if not isinstance(self._failure, ConnectionLostError):  # it would only time out
                await self._publish_failed()
            raise self._failure

    async def _supervised(
        self, what: str, body: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        """Run one background task; its failure is logged with the traceback and stops the
        worker (the play loops end, `run` re-raises) instead of ending that task quietly."""
        try:
            await body(stop)
        except Exception as e:  # recorded here, re-raised by run()
            print(f"{self._name}: {what} failed:", file=sys.stderr)
            traceback.print_exception(e, file=sys.stderr)
            if self._failure is None:
                self._failure = e
            self._room.set()
            stop.set()

    async def _publish_failed(self) -> None:
        values = {"failed": 1.0, "policy_version": float(self._policy.version)}
        metric = Metric(run=self._run, source=self._name, step=self._policy.version, values=values)
        with contextlib.suppress(BusError):  # the bus may be what failed
            await self._bus.publish(metric)

    async def _play_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._room.wait()
            if stop.is_set():
                return
            task = Task(run=self._run, game=self._game.name, params=self._source.next_params())
            outcome = await play_episode(
                self._game, self._graph, task, self._game_config, worker=self._name
            )
            self._source.observe(outcome)
            self._window.add(outcome)
            episode, ready = self._spans.add(outcome.samples, outcome.episode)
            await self._bus.publish_many([*ready, episode])

    async def _watch_backlog(self, stop: asyncio.Event) -> None:
        """Open or close the gate for new episodes by the trainer's backlog, 4 times a second."""
        try:
            while not stop.is_set():
                try:
                    backlog = await self._bus.backlog(Sample, self._trainer_durable)
                except BusError:
                    backlog = None  # NATS is reconnecting: keep playing, publishes will retry
                if backlog is not None and backlog >= self._config.max_backlog:
                    self._room.clear()
                else:
                    self._room.set()
                await asyncio.sleep(0.25)
        finally:
            self._room.set()  # never leave play loops waiting on a gate nobody watches

    async def _watch_weights(self, stop: asyncio.Event) -> None:
        async for pv in self._bus.watch_policy():
            if stop.is_set():
                return
            if pv.version > self._policy.version:
                await self._reload(pv)

    async def _report(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(_REPORT_EVERY_S)
            await self._publish_report()

    async def _publish_report(self) -> None:
        window, self._window = self._window, _Window()
        if window.episodes == 0:
            return
        values = window.values(self._policy.version)
        await self._bus.publish(
            Metric(run=self._run, source=self._name, step=self._policy.version, values=values)
        )


def _first(group: BaseExceptionGroup[BusError]) -> BusError:
    """The first error of a (possibly nested) exception group."""
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


async def _serve(args: argparse.Namespace) -> int:
    from sparring.model_cache import quiet_transformers

    quiet_transformers()

    config: RunConfig = load_config(args.run_dir / "config.yaml")
    if "SPARRING_BUS_CONFIG" in os.environ:  # credentials in clear, handed over by the launcher
        bus_config = BusConfig.model_validate_json(os.environ["SPARRING_BUS_CONFIG"])
        config = config.model_copy(update={"bus": bus_config})
    assert config.run is not None
    game = load_game(config.game)
    game_config = game.config_model.model_validate(config.game_params)
    wcfg = config.worker.model_copy(update={"seed": config.worker.seed + args.index})

    import torch

    torch.set_num_threads(wcfg.torch_threads)
    policy = start_policy(config.policy, args.model, adapter=adapter_shape(config))
    # Roles bound to their own policy: frozen (never trained), started once per worker.
    overrides = {
        role: start_policy(spec.policy, args.model, require_logprobs=False)
        for role, spec in config.roles.items()
    }
    bus = await Bus.connect(
        args.url, run=config.run, config=config.bus, name=f"worker-{args.index}"
    )

    # Its cache holds the version served, the base of the next delta (in /dev/shm when it fits).
    fetcher = WeightsFetcher(bus, policy, args.run_dir / "state" / f"worker-{args.index}")

    async def reload(pv: PolicyVersion) -> None:
        await load_announced(bus, policy, pv, fetcher)

    current = await bus.get_policy()
    if current is not None and current.version > policy.version:
        await reload(current)  # a restarted or late worker starts from the newest weights

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    name = f"worker-{args.index}"
    state_dir = args.run_dir / "state" / name
    worker = Worker(
        bus, game, game_config, policy, wcfg, name, config.run, reload, config.trainer.durable,
        state_dir, overrides,
    )  # fmt: skip
    try:
        await worker.run(stop)  # raises what failed: the process exits non-zero with it
    finally:
        fetcher.close()
        with contextlib.suppress(Exception):
            await bus.close()
        for served in (policy, *overrides.values()):
            with contextlib.suppress(Exception):
                await close_policy(served)
    return 0


def adapter_shape(config: RunConfig) -> AdapterShape | None:
    """The LoRA adapters the trainer will publish, if it publishes adapters (vLLM serves them;
    the transformers backend refuses them with a message saying to merge)."""
    lora = config.trainer.lora
    if lora is None or lora.publish != "adapter":
        return None
    return AdapterShape(rank=lora.rank, alpha=lora.alpha, targets=lora.targets)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sparring.worker",
        description="A rollout worker: plays the run's game and streams samples and episodes.",
    )
    parser.add_argument("--url", required=True, help="NATS server URL")
    parser.add_argument("--run-dir", type=Path, required=True, help="run directory (config.yaml)")
    parser.add_argument("--model", required=True, help="initial model folder or hub id")
    parser.add_argument("--index", type=int, default=0, help="worker number (seed offset, name)")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_serve(args))
    except BusError as e:  # a dead or unreachable server: one clear line, not a traceback
        print(f"worker-{args.index}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
