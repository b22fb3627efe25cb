"""Measuring a Kuhn Poker policy exactly, and teaching it the format.

`evaluate` asks the policy its greedy move at each of the 12 information sets (3 cards x 4
histories, one batch of 12 calls at temperature 0) and then computes, by enumerating the 6
deals and the opponent's move probabilities, the EXACT expected chips and win rate of that
greedy strategy from each seat against two fixed opponents:

- `random`: a uniformly random legal move;
- `heuristic`: bet or call with K, check or fold with J, with Q check and call a bet.

An illegal greedy move loses the hand, as in play. No sampling noise: two runs of the same
weights give the same figures. `demonstration` is a random reachable state and a uniformly
random legal move (format and legality, not strategy); `ready` asks for legal and still
spread sampled moves at every information set.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from sparring.graphs.kuhn_poker.config import KuhnConfig
from sparring.graphs.kuhn_poker.rules import (
    CARDS,
    DEALS,
    HISTORIES,
    chips,
    forfeit,
    is_terminal,
    legal_moves,
    parse_move,
    prompt,
    to_move,
)
from sparring.messages import ChatMessage
from sparring.policy.base import Policy, SamplingParams

__all__ = [
    "OPPONENTS",
    "Strategy",
    "demonstration",
    "evaluate",
    "expected",
    "greedy_strategy",
    "heuristic",
    "ready",
    "sampled_strategy",
    "uniform",
]

Strategy = Callable[[str, str], dict[str, float]]
"""(card, history) -> probability of each move (a letter; anything else is an illegal move)."""


def uniform(card: str, history: str) -> dict[str, float]:
    """The random opponent: each legal move equally likely."""
    legal = legal_moves(history)
    return {m: 1 / len(legal) for m in legal}


def heuristic(card: str, history: str) -> dict[str, float]:
    """The simple opponent: bet/call with K, check/fold with J; with Q check, and call a bet."""
    bet_open = history.endswith("b")
    if card == "K":
        return {"c": 1.0} if bet_open else {"b": 1.0}
    if card == "J":
        return {"f": 1.0} if bet_open else {"c": 1.0}
    return {"c": 1.0}


OPPONENTS: dict[str, Strategy] = {"random": uniform, "heuristic": heuristic}
"""The fixed opponents `evaluate` measures against, by name."""


def expected(strategy: Strategy, opponent: Strategy, seat: int) -> tuple[float, float]:
    """The exact (expected chips, win probability) of `strategy` playing `seat` v `opponent`."""
    total_chips = total_wins = 0.0
    for cards in DEALS:
        value, win = _walk(cards, "", strategy, opponent, seat)
        total_chips, total_wins = total_chips + value, total_wins + win
    return total_chips / len(DEALS), total_wins / len(DEALS)


def _walk(
    cards: tuple[str, str], history: str, strategy: Strategy, opponent: Strategy, seat: int
) -> tuple[float, float]:
    """(expected chips of `seat`, its win probability) from `history` on."""
    sign = 1 if seat == 0 else -1
    if is_terminal(history):
        won = sign * chips(cards, history)
        return float(won), float(won > 0)
    mover = to_move(history)
    player = strategy if mover == seat else opponent
    value = win = 0.0
    for move, p in player(cards[mover], history).items():
        if move not in legal_moves(history):
            lost = sign * forfeit(history, mover)
            v, w = float(lost), float(lost > 0)
        else:
            v, w = _walk(cards, history + move, strategy, opponent, seat)
        value, win = value + p * v, win + p * w
    return value, win


async def greedy_strategy(policy: Policy, cfg: KuhnConfig) -> dict[tuple[str, str], str | None]:
    """The policy's greedy move at each of the 12 information sets (None: illegal), one batch."""
    greedy = SamplingParams(max_new_tokens=cfg.max_new_tokens, temperature=0.0)
    keys = [(card, history) for card in CARDS for history in HISTORIES]
    generations = await asyncio.gather(
        *(
            policy.generate([ChatMessage(role="user", content=prompt(c, h))], greedy)
            for c, h in keys
        )
    )
    return {(c, h): parse_move(g.text, h) for (c, h), g in zip(keys, generations, strict=True)}


async def evaluate(policy: Policy, cfg: KuhnConfig) -> dict[str, float]:
    """Exact win rate and expected chips of the greedy policy from both seats v each opponent,
    and the expected chips of the sampled policy (its move shares estimated by sampling)."""
    moves = await greedy_strategy(policy, cfg)

    def greedy(card: str, history: str) -> dict[str, float]:
        move = moves[(card, history)]
        return {move if move is not None else "illegal": 1.0}

    shares = await sampled_strategy(policy, cfg)

    def sampled(card: str, history: str) -> dict[str, float]:
        return shares[(card, history)]

    out: dict[str, float] = {
        "legal": sum(m is not None for m in moves.values()) / len(moves),
        "legal_sampled": sum(1 - s.get("illegal", 0.0) for s in shares.values()) / len(shares),
    }
    for name, opponent in OPPONENTS.items():
        for seat in (0, 1):
            value, win = expected(greedy, opponent, seat)
            out[f"win_rate/{name}/seat{seat}"] = win
            out[f"chips/{name}/seat{seat}"] = value
            out[f"chips_sampled/{name}/seat{seat}"] = expected(sampled, opponent, seat)[0]
    return out


async def sampled_strategy(
    policy: Policy, cfg: KuhnConfig
) -> dict[tuple[str, str], dict[str, float]]:
    """The share of each move among `cfg.eval_samples` sampled moves at each information set.

    Sampled at the play temperature, all in one batch; a move that does not parse is counted
    under "illegal". This is the policy self-play actually runs, estimated (not exact: the
    shares carry sampling noise of about 1/sqrt(eval_samples)).
    """
    params = SamplingParams(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature)
    keys = [(card, history) for card in CARDS for history in HISTORIES]
    generations = await asyncio.gather(
        *(
            policy.generate([ChatMessage(role="user", content=prompt(c, h))], params)
            for c, h in keys
            for _ in range(cfg.eval_samples)
        )
    )
    shares: dict[tuple[str, str], dict[str, float]] = {}
    for i, (c, h) in enumerate(keys):
        counts: dict[str, float] = {}
        for g in generations[i * cfg.eval_samples : (i + 1) * cfg.eval_samples]:
            move = parse_move(g.text, h) or "illegal"
            counts[move] = counts.get(move, 0.0) + 1 / cfg.eval_samples
        shares[(c, h)] = counts
    return shares


async def ready(policy: Policy, cfg: KuhnConfig) -> bool:
    """Whether, at EVERY one of the 12 information sets, sampled moves are legal at least
    `cfg.ready_legal` of the time and each legal move is still played at least
    `cfg.ready_spread` of the time.

    Per information set, and sampled rather than greedy: "c" is legal everywhere, so a model
    that ignores its card and the history and always says "c" has a legal greedy move at all 12
    and knows nothing. Legal bets and folds only where they are legal show the model reads the
    history; both legal moves still played show it has not collapsed onto one, which self-play
    needs to explore (the demonstrations play them half and half).
    """
    shares = await sampled_strategy(policy, cfg)
    for (_, history), share in shares.items():
        if 1 - share.get("illegal", 0.0) < cfg.ready_legal:
            return False
        if min(share.get(m, 0.0) for m in legal_moves(history)) < cfg.ready_spread:
            return False
    return True


def demonstration(rng: random.Random, cfg: KuhnConfig) -> tuple[list[ChatMessage], str]:
    """A random reachable decision (every card meets every history) and a random legal move."""
    card, history = rng.choice(CARDS), rng.choice(HISTORIES)
    return [ChatMessage(role="user", content=prompt(card, history))], rng.choice(
        legal_moves(history)
    )
