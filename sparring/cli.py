"""The `sparring` command line. Each command's work lives in its own module; this file only
parses arguments and hands them over (imports are lazy so `--help` is instant)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sparring.errors import SparringError

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


def _schema(args: argparse.Namespace) -> int:
    from sparring.schema import write_schemas

    for path in write_schemas(Path(args.out)):
        print(path)
    return 0


def _add_schema(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "schema",
        help="write the JSON Schema of every bus message",
        description="Write <kind>.schema.json for every message kind that crosses the bus, so a "
        "client in any language can read sparring's streams.",
    )
    p.add_argument("out", nargs="?", default="schema", help="output folder (default: ./schema)")
    p.set_defaults(handler=_schema)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sparring",
        description="Train language-model agents by self-play: roles play a game graph, "
        "trajectories stream over NATS, a trainer updates the shared policy live.",
    )
    from sparring import __version__

    parser.add_argument("--version", action="version", version=f"sparring {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    return parser


_COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_schema,
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except SparringError as e:
        print(f"sparring: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
