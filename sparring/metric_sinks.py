"""Metrics where researchers look: TensorBoard event files in `RUN/tb/`, and W&B when asked.

The launcher's metrics collector hands every `Metric` it writes to `metrics.jsonl` to
`MetricSinks.write` as well, so the three hold the same records under the same names:

- TensorBoard (always): one scalar per value, tagged `<source>/<name>` exactly as the record
  names them (`trainer/loss`, `eval/acc_greedy/d4`, `worker-0/episodes`), at the record's own
  `step` (trainer: the optimizer step; eval and workers: the policy version it measured or
  played with) and its measurement time as wall time. `tensorboard --logdir runs/` shows every
  run, each as `<run>/tb`. Written with tensorboardX's `SummaryWriter`, the library's format.
- Weights & Biases (`loop.wandb: {project: ...}`): the same keys, each source with its own
  step metric (`<source>/step`, via `define_metric`), since the sources count steps in
  different units. The run's resolved config is the W&B config; the run name its id, so a
  resumed run continues the same W&B run (in online mode) and the history it replays is not
  logged twice.

The collector replays the metric stream from the start when a run is resumed, so `RUN/tb/` is
rewritten from the start like `metrics.jsonl`. A sink that fails (a full disk, W&B refusing) is
reported once and switched off: the run and its metrics.jsonl go on.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from sparring.messages import Metric

__all__ = ["TB_DIR", "MetricSinks", "TensorBoardSink", "WandbConfig", "WandbSink"]

TB_DIR = "tb"
"""TensorBoard's folder under the run directory."""


class WandbConfig(BaseModel):
    """Where a run's metrics go in Weights & Biases (`loop.wandb`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project: str = Field(min_length=1, description="W&B project the run is logged to.")
    entity: str | None = Field(None, description="W&B team or user (None: your default).")
    mode: Literal["online", "offline", "disabled"] | None = Field(
        None,
        description="'offline' writes RUN/wandb/ only (upload later with `wandb sync`); None: "
        "W&B's own default (WANDB_MODE, else online).",
    )
    tags: tuple[str, ...] = Field((), description="Tags on the W&B run.")


class _Sink(Protocol):
    def write(self, metric: Metric) -> None: ...
    def close(self) -> None: ...


class TensorBoardSink:
    """Every value as a TensorBoard scalar under `<run_dir>/tb/`."""

    def __init__(self, run_dir: Path) -> None:
        from tensorboardX import SummaryWriter

        self.logdir = run_dir / TB_DIR
        # The collector replays the whole stream (a resumed run too): start the events afresh,
        # or every earlier point would be there twice.
        shutil.rmtree(self.logdir, ignore_errors=True)
        self._writer = SummaryWriter(logdir=str(self.logdir), flush_secs=5)

    def write(self, metric: Metric) -> None:
        for name, value in metric.values.items():
            self._writer.add_scalar(
                f"{metric.source}/{name}", value, global_step=metric.step, walltime=metric.time
            )

    def close(self) -> None:
        self._writer.close()


class WandbSink:
    """Every value logged to a W&B run, one step metric per source."""

    def __init__(self, run_dir: Path, run: str, config: WandbConfig, run_config: Any) -> None:
        import wandb

        self._run = wandb.init(
            project=config.project,
            entity=config.entity,
            mode=config.mode,
            tags=list(config.tags),
            name=run,
            id=re.sub(r"[^A-Za-z0-9_-]", "-", run)[:64],
            resume="allow",
            dir=str(run_dir),
            config=run_config,
        )
        # A resumed W&B run already holds what this run's previous life measured.
        self._since = time.time() if self._run.resumed else 0.0
        self._sources: set[str] = set()

    def write(self, metric: Metric) -> None:
        if metric.time < self._since:
            return
        if metric.source not in self._sources:
            self._sources.add(metric.source)
            self._run.define_metric(f"{metric.source}/step")
            self._run.define_metric(f"{metric.source}/*", step_metric=f"{metric.source}/step")
        values = {f"{metric.source}/{k}": v for k, v in metric.values.items()}
        self._run.log({**values, f"{metric.source}/step": metric.step})

    def close(self) -> None:
        self._run.finish()


class MetricSinks:
    """The sinks of one run, used as a context manager around the metrics collector."""

    def __init__(
        self,
        run_dir: Path,
        run: str,
        wandb: WandbConfig | None = None,
        run_config: Any = None,
        say: Callable[[str], None] = print,
    ) -> None:
        self._say = say
        self._sinks: dict[str, _Sink] = {}
        self._open("TensorBoard", lambda: TensorBoardSink(run_dir))
        if wandb is not None:
            self._open("W&B", lambda: WandbSink(run_dir, run, wandb, run_config))

    def _open(self, name: str, make: Callable[[], _Sink]) -> None:
        try:
            self._sinks[name] = make()
        except Exception as e:  # a third-party library's any error: metrics.jsonl still works
            self._say(f"[yellow]metrics: {name} is off ({type(e).__name__}: {e})[/]")

    def write(self, metric: Metric) -> None:
        """Hand one record to every sink still on."""
        for name, sink in list(self._sinks.items()):
            try:
                sink.write(metric)
            except Exception as e:  # switched off, said once: the run must not stop for it
                del self._sinks[name]
                self._say(f"[yellow]metrics: {name} switched off ({type(e).__name__}: {e})[/]")

    def close(self) -> None:
        """Flush and close every sink (W&B: finish the run)."""
        for name, sink in self._sinks.items():
            try:
                sink.close()
            except Exception as e:  # closing one must not keep the others from closing
                self._say(f"[yellow]metrics: {name} did not close ({type(e).__name__}: {e})[/]")
        self._sinks.clear()

    def __enter__(self) -> MetricSinks:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
