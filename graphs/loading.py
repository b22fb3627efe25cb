"""`load_game`: find a Game by built-in name, by file path, or by `module:attr`.

    load_game("arith")                       # built in
    load_game("examples/guess_number/game.py")  # a user's file: its `game` (or its only Game)
    load_game("mypackage.games:tictactoe")   # an importable attribute

Anything else raises GameError saying what was looked for and what to write instead.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from sparring.errors import GameError
from sparring.graphs.game import Game

__all__ = ["BUILTIN_GAMES", "builtin_games", "load_game"]

BUILTIN_GAMES: dict[str, str] = {
    "arith": "sparring.graphs.arith:game",
    "code": "sparring.graphs.code:game",
    "kuhn_poker": "sparring.graphs.kuhn_poker:game",
    "hiersearch": "sparring.graphs.hiersearch:game",
    "search": "sparring.graphs.search:game",
}
"""Name -> `module:attr` of the games sparring ships."""


def builtin_games() -> list[Game]:
    """The built-in games, loaded."""
    return [load_game(name) for name in BUILTIN_GAMES]


def load_game(spec: str) -> Game:
    """The Game named by `spec`: a built-in name, a path to a .py file, or `module:attr`."""
    if spec in BUILTIN_GAMES:
        return _from_attribute(BUILTIN_GAMES[spec])
    if spec.endswith(".py") or Path(spec).is_file():
        return _from_file(Path(spec))
    if ":" in spec:
        return _from_attribute(spec)
    raise GameError(
        f"unknown game {spec!r}: built-in games are {', '.join(BUILTIN_GAMES)}; for your own "
        "game give a path/to/game.py or module:attr"
    )


def _from_attribute(spec: str) -> Game:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise GameError(f"cannot import {module_name!r} for game {spec!r}: {e}") from e
    if not hasattr(module, attr):
        raise GameError(f"module {module_name!r} has no attribute {attr!r} (game {spec!r})")
    return _checked(getattr(module, attr), spec)


def _from_file(path: Path) -> Game:
    if not path.is_file():
        raise GameError(f"game file {str(path)!r} does not exist")
    resolved = path.resolve()
    # A unique module name per file, so two users' game.py files never shadow each other.
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:8]
    name = f"sparring_game_{resolved.stem}_{digest}"
    if name in sys.modules:
        return _find_game(sys.modules[name], str(path))
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise GameError(f"cannot load {str(path)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic and dataclasses look their module up while defining
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the user's file failed: say where, keep the cause
        del sys.modules[name]
        raise GameError(f"importing game file {str(path)!r} failed: {type(e).__name__}: {e}") from e
    return _find_game(module, str(path))


def _find_game(module: ModuleType, where: str) -> Game:
    if isinstance(getattr(module, "game", None), Game):
        return _checked(module.game, where)
    games = [v for v in vars(module).values() if isinstance(v, Game)]
    if len(games) == 1:
        return games[0]
    found = "no Game" if not games else f"{len(games)} Games"
    raise GameError(
        f"{where} holds {found}: define `game = Game(...)` at module level "
        "(see examples/guess_number/game.py)"
    )


def _checked(obj: object, spec: str) -> Game:
    if not isinstance(obj, Game):
        what = f"the class {obj.__name__}" if isinstance(obj, type) else f"a {type(obj).__name__}"
        raise GameError(f"{spec!r} is not a sparring.graphs.Game but {what}")
    return obj
