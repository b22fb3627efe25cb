"""Measuring a Kuhn Poker policy exactly, and teaching it the format.

`evaluate` asks the policy its greedy move at each of the 12 information sets (3 cards x 4
histories, one batch of 12 calls at temperature 0) and then computes, by enumerating the 6
deals and the opponent's move probabilities, the EXACT expected chips and win rate of that
greedy strategy from each seat against two fixed opponents:

- `random`: a uniformly random legal move;
- `heuristic`: bet or call with K, check or fold with J, with Q check and call a bet.

Beside them, the exploitability of the greedy and of the sampled policy: what a best response
wins against it, 0 at a Nash equilibrium. An illegal greedy move loses the hand, as in play.
The greedy figures carry no sampling noise: two runs of the same weights give the same ones;
the sampled ones estimate each move's share from `eval_samples` draws per information set.
`demonstration` is a random reachable state and a move of `demonstrated`, the half-known
game (uniform legal moves, but a king calls and a jack folds facing a bet); `ready` asks that
the sampled policy play it at every information set.
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
    "demonstrated",
    "demonstration",
    "evaluate",
    "expected",
    "exploitability",
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


def _pure_strategies(seat: int) -> list[Strategy]:
    """Every deterministic strategy of `seat`: one legal move at each of its 6 information sets."""
    keys = [(c, h) for c, h in INFOSETS if to_move(h) == seat]
    choices: list[dict[tuple[str, str], str]] = [{}]
    for key in keys:
        choices = [{**c, key: m} for c in choices for m in legal_moves(key[1])]
    return [_pure(c) for c in choices]


def _pure(moves: dict[tuple[str, str], str]) -> Strategy:
    """The strategy that plays `moves[(card, history)]` for certain."""
    return lambda card, history: {moves[(card, history)]: 1.0}


def exploitability(strategy: Strategy) -> float:
    """How much a best response wins against `strategy` playing both seats, in chips per hand.

    The mean over the two seats of the best response's expected chips (each over the 64
    deterministic strategies of the other seat), so a Nash equilibrium scores 0 (the seats'
    game values, -1/18 and +1/18, cancel) and anything else more. The standard yardstick of
    self-play in poker (e.g. Heinrich and Silver 2016, NFSP): unlike the figures against a fixed
    opponent it cannot be gamed by exploiting that one opponent.
    """
    best = [
        max(expected(br, strategy, 1 - seat)[0] for br in _pure_strategies(1 - seat))
        for seat in (0, 1)
    ]
    return sum(best) / 2


INFOSETS = tuple((card, history) for card in CARDS for history in HISTORIES)
"""The 12 information sets (card, history), in a fixed order."""


async def _moves(
    policy: Policy, cfg: KuhnConfig, temperature: float, samples: int
) -> dict[tuple[str, str], list[str | None]]:
    """`samples` moves of the policy at each information set (None: illegal), one batch."""
    params = SamplingParams(max_new_tokens=cfg.max_new_tokens, temperature=temperature)
    generations = await asyncio.gather(
        *(
            policy.generate([ChatMessage(role="user", content=prompt(c, h))], params)
            for c, h in INFOSETS
            for _ in range(samples)
        )
    )
    return {
        (c, h): [parse_move(g.text, h) for g in generations[i * samples : (i + 1) * samples]]
        for i, (c, h) in enumerate(INFOSETS)
    }


async def greedy_strategy(policy: Policy, cfg: KuhnConfig) -> dict[tuple[str, str], str | None]:
    """The policy's greedy move at each of the 12 information sets (None: illegal), one batch."""
    return {key: moves[0] for key, moves in (await _moves(policy, cfg, 0.0, 1)).items()}


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
    out["exploitability/greedy"] = exploitability(greedy)
    out["exploitability/sampled"] = exploitability(sampled)
    return out


async def sampled_strategy(
    policy: Policy, cfg: KuhnConfig
) -> dict[tuple[str, str], dict[str, float]]:
    """The share of each move among `cfg.eval_samples` sampled moves at each information set.

    Sampled at the play temperature, all in one batch; a move that does not parse is counted
    under "illegal". This is the policy self-play actually runs, estimated (not exact: the
    shares carry sampling noise of about 1/sqrt(eval_samples)).
    """
    shares: dict[tuple[str, str], dict[str, float]] = {}
    for key, moves in (await _moves(policy, cfg, cfg.temperature, cfg.eval_samples)).items():
        counts: dict[str, float] = {}
        for move in moves:
            counts[move or "illegal"] = counts.get(move or "illegal", 0.0) + 1 / len(moves)
        shares[key] = counts
    return shares


async def ready(policy: Policy, cfg: KuhnConfig) -> bool:
    """Whether the sampled policy plays the demonstrated one (`demonstrated`) at EVERY one of
    the 12 information sets, within a total variation distance of `cfg.ready_tv`.

    Per information set, and sampled rather than greedy: "c" is legal everywhere, so a model
    that ignores its card and the history and always says "c" has a legal greedy move at all 12
    and knows nothing. Matching the demonstrated shares shows the model reads the history
    (legal bets and folds), reads its card (the dominated choices) and has not collapsed onto
    one move where both are shown (self-play needs that spread to explore). Illegal samples
    count as distance.
    """
    shares = await sampled_strategy(policy, cfg)
    for (card, history), share in shares.items():
        target = demonstrated(card, history)
        moves = set(share) | set(target)
        distance = sum(abs(share.get(m, 0.0) - target.get(m, 0.0)) for m in moves) / 2
        if distance > cfg.ready_tv:
            return False
    return True


def demonstrated(card: str, history: str) -> dict[str, float]:
    """The strategy the warm-up demonstrates: the half-known game.

    Uniform over the legal moves, except the two choices no strategy is needed for: facing a
    bet, a king calls (it cannot lose the showdown) and a jack folds (it cannot win it). What
    is left to self-play is the strategy proper: when to bet (a king for value, a jack as a
    bluff) and whether a queen calls a bet. These two rules also make the warm-up teach the
    model to read its card, which uniform demonstrations never did: a card-blind model stayed
    card-blind through self-play (docs/learning.md).
    """
    if history.endswith("b") and card == "K":
        return {"c": 1.0}
    if history.endswith("b") and card == "J":
        return {"f": 1.0}
    return uniform(card, history)


def demonstration(rng: random.Random, cfg: KuhnConfig) -> tuple[list[ChatMessage], str]:
    """A random reachable decision (every card meets every history) and a move drawn from the
    demonstrated strategy there."""
    card, history = rng.choice(CARDS), rng.choice(HISTORIES)
    moves, weights = zip(*demonstrated(card, history).items(), strict=True)
    return [ChatMessage(role="user", content=prompt(card, history))], rng.choices(moves, weights)[0]
