"""Kuhn Poker: a two-seat zero-sum card game one shared policy plays against itself.

Three cards J < Q < K, an ante of 1 each, one betting round (rules in `rules`). The seat to move
sees "kuhn card K history cb" and answers one letter: c (check or call), b (bet), f (fold); every
move is paid the chips its seat won or lost in the hand (config `reward`). Each
seat is its own role with its own running baseline (SPIRAL, arXiv 2506.24119, role-conditioned
advantage estimation: one baseline for both seats would mix the first mover's edge into both).
The graph and rewards are in `graph`, exact evaluation and the warm-up in `heldout`.

    from sparring.graphs.kuhn_poker import game, KuhnConfig
"""

import random

from pydantic import JsonValue

from sparring.credit import RoleSpec
from sparring.graphs.game import Game
from sparring.graphs.kuhn_poker.config import KuhnConfig
from sparring.graphs.kuhn_poker.graph import SEATS, KuhnState, build, score, start
from sparring.graphs.kuhn_poker.heldout import (
    OPPONENTS,
    demonstration,
    evaluate,
    expected,
    exploitability,
    greedy_strategy,
    heuristic,
    ready,
    uniform,
)
from sparring.graphs.kuhn_poker.rules import DEALS

__all__ = [
    "OPPONENTS",
    "SEATS",
    "KuhnConfig",
    "KuhnState",
    "build",
    "deal",
    "demonstration",
    "evaluate",
    "expected",
    "exploitability",
    "game",
    "greedy_strategy",
    "heuristic",
    "ready",
    "score",
    "start",
    "uniform",
]


def deal(rng: random.Random, cfg: KuhnConfig) -> dict[str, JsonValue]:
    """One uniformly random deal: two distinct cards, player_0's first."""
    cards = rng.choice(DEALS)
    return {"cards": [cards[0], cards[1]]}


game = Game(
    name="kuhn_poker",
    description="Kuhn Poker (J<Q<K, one betting round): one policy plays both seats",
    config_model=KuhnConfig,
    build=build,
    start=start,
    score=score,
    tasks=deal,
    evaluate=evaluate,
    demonstrations=demonstration,
    ready=ready,
    warmup_smoothing=0.0,  # the demonstrations carry the spread (both legal moves shown)
    roles={
        seat: RoleSpec(
            estimator="rae",
            grouping="call",
            description=f"{'first' if i == 0 else 'second'} to act; every move paid the chips "
            "its seat won or lost in the hand, against this seat's own baseline",
        )
        for i, seat in enumerate(SEATS)
    },
)
"""The Kuhn Poker Game, as `load_game("kuhn_poker")` returns it."""
