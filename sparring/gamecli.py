"""`sparring games` and `sparring graph GAME`: what games there are, and what one looks like.

`graph` builds the game with its default config over a policy that is never asked (drawing a
graph runs no node), and prints LangGraph's Mermaid rendering, ready for a Markdown file.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sparring.errors import PolicyError
from sparring.graphs import Policies, builtin_games, load_game
from sparring.messages import ChatMessage
from sparring.policy.base import Generation, Prompt, SamplingParams, WeightsFormat

__all__ = ["list_games", "print_graph"]


class _Unasked:
    """A Policy stand-in for drawing: building a graph must not generate anything."""

    version = 0

    def render(self, messages: Sequence[ChatMessage]) -> list[int]:
        return []

    def encode(self, text: str) -> list[int]:
        return []

    def decode(self, ids: Sequence[int]) -> str:
        return ""

    async def generate(self, prompt: Prompt, params: SamplingParams) -> Generation:
        raise PolicyError("the drawing policy was asked to generate; building a graph must not")

    async def load_weights(self, data: bytes, version: int, format: WeightsFormat = "full") -> None:
        raise PolicyError("the drawing policy has no weights to load")


def list_games(args: argparse.Namespace) -> int:
    """Print each built-in game with its one-line description."""
    games = builtin_games()
    width = max(len(g.name) for g in games)
    for game in games:
        print(f"{game.name:<{width}}  {game.description}")
    print("\nyour own game: sparring run path/to/game.py (see examples/guess_number)")
    return 0


def print_graph(args: argparse.Namespace) -> int:
    """Print the graph of `args.game` as Mermaid (subgraphs drawn inside their nodes)."""
    game = load_game(args.game)
    graph = game.drawing(Policies(default=_Unasked()), game.config_model())
    print(graph.get_graph(xray=True).draw_mermaid())
    return 0
