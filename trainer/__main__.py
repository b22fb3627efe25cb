"""`python -m sparring.trainer`: the trainer as its own process (the launcher starts it so).

    python -m sparring.trainer --url nats://127.0.0.1:4222 --run myrun --model runs/x/model \
        --run-dir runs/x/trainer --config '{"lr": 1e-4}' [--bus-config '{"ack_wait_s": 60}']

--config and --bus-config take JSON text or a path to a JSON file. SIGTERM or SIGINT stops it
cleanly (a final checkpoint, acks, and a last publish); kill -9 loses at most the steps since
the last checkpoint, whose samples are then redelivered and trained once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from sparring.bus import Bus, BusConfig
from sparring.errors import BusError, ConfigError
from sparring.trainer.config import TrainerConfig
from sparring.trainer.errors import TrainerError
from sparring.trainer.loop import Trainer

__all__ = ["main"]


def _json_arg(text: str) -> str:
    path = Path(text)
    if not text.lstrip().startswith("{") and path.is_file():
        return path.read_text()
    return text


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line of the trainer process."""
    p = argparse.ArgumentParser(prog="python -m sparring.trainer", description=__doc__)
    p.add_argument("--url", required=True, help="NATS server URL")
    p.add_argument("--run", required=True, help="run name (streams, KV and weights are per run)")
    p.add_argument("--model", required=True, type=Path, help="model folder (save_pretrained)")
    p.add_argument("--run-dir", required=True, type=Path, help="checkpoints, metrics, ledger")
    p.add_argument("--config", default="{}", help="TrainerConfig as JSON text or a JSON file")
    p.add_argument(
        "--bus-config",
        default=os.environ.get("SPARRING_BUS_CONFIG", "{}"),
        help="BusConfig as JSON text or a JSON file (default: $SPARRING_BUS_CONFIG, which keeps "
        "credentials off the command line)",
    )
    return p.parse_args(argv)


async def _serve(args: argparse.Namespace) -> int:
    try:
        config = TrainerConfig.model_validate_json(_json_arg(args.config))
        bus_config = BusConfig.model_validate_json(_json_arg(args.bus_config))
    except ValidationError as e:
        raise ConfigError("--config", str(e)) from e
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bus = await Bus.connect(args.url, run=args.run, config=bus_config, name="trainer")
    try:
        state = await Trainer(config, args.model, args.run_dir, bus).run(stop)
    finally:
        await bus.close()
    logging.getLogger(__name__).info("trainer stopped at step %d", state.step)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the trainer until SIGTERM/SIGINT; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a "Loading weights" bar per load is noise in the log
    try:
        return asyncio.run(_serve(parse(argv)))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (TrainerError, BusError) as e:  # a missing model folder, an unreachable server
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
