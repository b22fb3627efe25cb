"""The `sparring` command line. Each command's work lives in its own module; this file only
parses arguments and hands them over (imports are lazy so `--help` is instant)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sparring.errors import SparringError

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


def _lazy(target: str) -> Handler:
    """A handler that imports `module:function` only when its command runs (fast --help)."""

    def handler(args: argparse.Namespace) -> int:
        import importlib

        module, func = target.split(":")
        result: int = getattr(importlib.import_module(module), func)(args)
        return result

    return handler


if TYPE_CHECKING:
    Sub = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Sub = argparse._SubParsersAction


def _add_schema(sub: Sub) -> None:
    p = sub.add_parser(
        "schema",
        help="write the JSON Schema of every bus message",
        description="Write <kind>.schema.json for every message kind that crosses the bus, so a "
        "client in any language can read sparring's streams.",
    )
    p.add_argument("out", nargs="?", default="schema", help="output folder (default: ./schema)")
    p.set_defaults(handler=_lazy("sparring.schema:main"))


def _add_bus_demo(sub: Sub) -> None:
    p = sub.add_parser(
        "bus-demo",
        help="start an embedded NATS, stream samples through it, print throughput",
        description="Start the embedded nats-server (or use --nats), publish N realistic Samples "
        "through sparring's bus, consume and ack them, and print the rates.",
    )
    p.add_argument("--samples", type=int, default=20_000, help="samples to send (default 20000)")
    p.add_argument("--tokens", type=int, default=1024, help="completion tokens per sample")
    p.add_argument("--nats", metavar="URL", help="use this NATS server instead of an embedded one")
    p.add_argument("--dir", type=Path, help="where the embedded server stores (default: a tmp dir)")
    p.set_defaults(handler=_lazy("sparring.bus_demo:main"))


def _add_init_model(sub: Sub) -> None:
    p = sub.add_parser(
        "init-model",
        help="build the tiny offline model and tokenizer (optionally warmed up on a game)",
        description="Build a tiny Qwen3 or Llama model with a locally trained byte-level BPE "
        "tokenizer and a chat template, fully offline, into DIR; it loads with "
        "from_pretrained like any real model. --warmup GAME runs a supervised pass over the "
        "game's demonstrations until the game's readiness check passes (arith: easy levels "
        "known, the frontier half-known).",
    )
    p.add_argument("dir", type=Path, help="output folder")
    p.add_argument("--arch", choices=["qwen3", "llama"], default="qwen3", help="architecture")
    p.add_argument("--warmup", metavar="GAME", help="warm up on this game's demonstrations")
    p.add_argument(
        "--warmup-steps",
        type=int,
        default=2000,
        help="most warm-up steps; it stops earlier once the game's readiness check passes",
    )
    p.add_argument("--warmup-seconds", type=float, default=900.0, help="warm-up time guard")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.set_defaults(handler=_lazy("sparring.init_model:main"))


def _add_run(sub: Sub) -> None:
    p = sub.add_parser(
        "run",
        help="run a live self-play loop: NATS, trainer and rollout workers in one command",
        description="Play GAME (a built-in name, a path/to/game.py or module:attr) with N rollout "
        "workers while the trainer updates the shared policy live. Writes metrics, plots and "
        "checkpoints into the run directory; a worker, the trainer or the embedded nats-server "
        "that dies is restarted; Ctrl-C stops cleanly; --resume continues.",
        epilog="Config sections (a YAML/TOML file of them, or --set SECTION.FIELD=VALUE): game, "
        "run, nats, game_params (the game's own settings), loop, policy, worker, trainer, bus, "
        "supervisor (restarting what dies). "
        "`sparring config GAME` prints every field with its default and description.",
    )
    p.add_argument("game", nargs="?", default="arith", help="game to play (default: arith)")
    p.add_argument("--config", type=Path, help="YAML or TOML config file")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set trainer.lr=1e-4 (repeatable)",
    )
    p.add_argument("--run-dir", type=Path, help="run directory (default: runs/<game>-<time>)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a stopped run")
    p.add_argument("--nats", metavar="URL", help="use this NATS server instead of an embedded one")
    p.add_argument("--workers", type=int, help="rollout worker processes")
    p.add_argument("--minutes", type=float, help="stop after this many minutes")
    p.add_argument("--no-inspector", action="store_true", help="do not start the web inspector")
    p.set_defaults(handler=_lazy("sparring.launcher:main"))


def _add_config(sub: Sub) -> None:
    p = sub.add_parser(
        "config",
        help="print every config field of a run, with its default and description",
        description="Print the full config of `sparring run GAME`, section by section: every "
        "field with its default and what it does, including the game's own section "
        "(game_params, from the game's config model).",
    )
    p.add_argument("game", nargs="?", default="arith", help="game whose settings to include")
    p.set_defaults(handler=_lazy("sparring.config:print_config"))


def _add_games(sub: Sub) -> None:
    p = sub.add_parser(
        "games",
        help="list the built-in games",
        description="List the games sparring ships, with a line on each.",
    )
    p.set_defaults(handler=_lazy("sparring.gamecli:list_games"))


def _add_graph(sub: Sub) -> None:
    p = sub.add_parser(
        "graph",
        help="print a game's graph as Mermaid",
        description="Print the LangGraph graph of GAME (a built-in name, a path/to/game.py or "
        "module:attr) as a Mermaid diagram.",
    )
    p.add_argument("game", help="game to draw")
    p.set_defaults(handler=_lazy("sparring.gamecli:print_graph"))


def _add_export(sub: Sub) -> None:
    p = sub.add_parser(
        "export",
        help="write a run's trained model as a from_pretrained folder (any checkpoint)",
        description="Write the weights of one of RUN_DIR's checkpoints into OUT as a "
        "save_pretrained folder with the run's tokenizer and chat template, which "
        "transformers' from_pretrained loads as it is. The weights are the "
        "trainer's at that policy version; under LoRA they are merged into the base model and "
        "the adapter is saved beside them in OUT/adapter. Works on a finished run and on a "
        "live one. Every run already ends with its latest weights in RUN_DIR/final/.",
        epilog="Only the trainer's last trainer.keep_checkpoints checkpoints are on disk; asking "
        "for a version that is not lists the ones that are. Version 0 is the model the run "
        "started from. OUT/export.json says which run, version and step it holds.",
    )
    p.add_argument("run_dir", type=Path, help="the run directory (runs/<game>-<time>)")
    p.add_argument("out", type=Path, help="output folder (an earlier export there is replaced)")
    p.add_argument(
        "--version", type=int, help="policy version to export (default: the latest checkpoint)"
    )
    p.add_argument("--step", type=int, help="or the checkpoint of this optimizer step")
    p.add_argument(
        "--no-merge",
        action="store_true",
        help="under LoRA, write the adapter alone (peft loads it over the base model)",
    )
    p.set_defaults(handler=_lazy("sparring.export:main"))


def _add_inspect(sub: Sub) -> None:
    p = sub.add_parser(
        "inspect",
        help="serve the live conversation viewer for a run",
        description="Serve a web page on 127.0.0.1 that lists a run's episodes live and opens "
        "each as a conversation: every role's messages, tool calls, verdicts and rewards.",
    )
    p.add_argument("run", nargs="?", type=Path, help="run directory (default: the newest)")
    p.add_argument("--nats", metavar="URL", help="read from this NATS server")
    p.add_argument("--port", type=int, default=8265, help="port (default 8265; 0 = any free)")
    _add_episode_filters(p)
    p.set_defaults(handler=_lazy("sparring.inspector.web:main"))


def _add_episode_filters(p: argparse.ArgumentParser) -> None:
    """The episode filters `inspect` and `tail` share (read by sparring.inspector.filters)."""
    g = p.add_argument_group("filters")
    g.add_argument("--game", help="only this game")
    roles = ["proposer", "solver", "verifier", "judge", "planner", "refiner"]
    g.add_argument("--role", choices=roles, help="only episodes where this role spoke")
    g.add_argument("--min-reward", type=float, help="some (role's) reward >= this")
    g.add_argument("--max-reward", type=float, help="some (role's) reward <= this")
    g.add_argument("--version", type=int, help="only this policy version")
    g.add_argument(
        "--verdict",
        help="a verdict the game emits is ok (solved, found, won; valid = valid_*), or not ok:"
        " '!solved' or solved=false (unsolved, invalid also work)",
    )
    g.add_argument("--search", metavar="TEXT", help="text anywhere in the episode")


def _add_tail(sub: Sub) -> None:
    p = sub.add_parser(
        "tail",
        help="print a run's episodes in the terminal as they arrive",
        description="Follow a run's episode stream and print each episode, with the same filters "
        "as the inspector.",
    )
    p.add_argument("run", nargs="?", type=Path, help="run directory (default: the newest)")
    p.add_argument("--nats", metavar="URL", help="read from this NATS server")
    _add_episode_filters(p)
    p.set_defaults(handler=_lazy("sparring.inspector.tail:main"))


def _add_index(sub: Sub) -> None:
    p = sub.add_parser(
        "index",
        help="embed a JSONL corpus and build its search index (faiss, with BM25 beside it)",
        description='Embed CORPUS (JSONL, one {"id", "title", "text"} a line) with the '
        "shipped all-MiniLM-L6-v2 model, build a faiss index (exact for small corpora, HNSW or "
        "IVF for large ones) and a BM25 index, and save them with the ids and the model's name "
        "into the folder OUT, which the search tool loads.",
    )
    p.add_argument("corpus", type=Path, help="JSONL corpus file")
    p.add_argument("out", type=Path, help="output folder (an older index there is replaced)")
    p.add_argument(
        "--kind",
        choices=["auto", "flat", "ivf", "hnsw"],
        help="faiss index kind (default auto: exact flat up to --flat-max passages, else hnsw)",
    )
    p.add_argument("--flat-max", type=int, help="largest corpus auto keeps exact (100000)")
    p.add_argument("--nlist", type=int, help="IVF lists (default about 4*sqrt(passages))")
    p.add_argument("--nprobe", type=int, help="IVF lists scanned per query (16)")
    p.add_argument("--hnsw-m", type=int, help="HNSW links per node (32)")
    p.add_argument("--ef-construction", type=int, help="HNSW build candidate list (200)")
    p.add_argument("--ef-search", type=int, help="HNSW search candidate list (128)")
    p.add_argument("--no-bm25", action="store_true", help="build no BM25 index")
    p.add_argument("--batch-size", type=int, default=64, help="passages per embedding batch")
    p.set_defaults(handler=_lazy("sparring.tools.search.command:main"))


def _add_sandbox(sub: Sub) -> None:
    p = sub.add_parser(
        "sandbox",
        help="run a Python file in the code sandbox and print its outcome as one JSON line",
        description="Run FILE in the sandbox the code game uses (its own pid, network, mount "
        "and IPC namespaces, an unprivileged uid, a read-only root, a seccomp filter, cgroup "
        "and rlimit caps on time, memory, processes, output and disk), with the default "
        "limits, and print the outcome as one JSON line: status, limit, stdout, value, "
        "error, ... Needs Linux and root (a container run as root works); refuses to run a "
        "program unconfined.",
    )
    p.add_argument("file", type=Path, help="the Python program")
    p.add_argument(
        "--call", metavar="EXPR", help="an expression evaluated after the program, e.g. 'f(3)'"
    )
    p.set_defaults(handler=_lazy("sparring.tools.sandbox.command:main"))


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


_COMMANDS: list[Callable[[Sub], None]] = [
    _add_run,
    _add_export,
    _add_config,
    _add_init_model,
    _add_index,
    _add_sandbox,
    _add_games,
    _add_graph,
    _add_inspect,
    _add_tail,
    _add_bus_demo,
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
