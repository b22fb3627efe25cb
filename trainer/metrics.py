"""Where the trainer's per-step numbers go: a JSONL file in the run directory and the bus.

Each step yields one flat `{name: float}` dict; `MetricsSink.emit` appends it as a line of
`<run_dir>/metrics.jsonl` (with step and time) and publishes it as a `Metric` with source
"trainer", so the inspector, the launcher's plots and a person with `jq` all read the same
figures. A failed bus publish is logged, never fatal: metrics must not stop training.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from sparring.bus import Bus, PublishError
from sparring.messages import Metric

__all__ = ["MetricsSink"]

log = logging.getLogger(__name__)


class MetricsSink:
    """Appends metrics to a JSONL file and publishes them on the bus."""

    def __init__(self, path: Path, bus: Bus | None, source: str = "trainer") -> None:
        self.path = path
        self.bus = bus
        self.source = source

    async def emit(self, step: int, values: dict[str, float]) -> None:
        """Record the figures of `step`."""
        now = time.time()
        with self.path.open("a") as f:
            f.write(json.dumps({"step": step, "time": now, **values}) + "\n")
        if self.bus is None:
            return
        metric = Metric(run=self.bus.run, source=self.source, step=step, values=values, time=now)
        try:
            await self.bus.publish(metric)
        except PublishError as e:
            log.warning("trainer metrics for step %d not published: %s", step, e)
