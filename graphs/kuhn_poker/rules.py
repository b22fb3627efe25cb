"""The rules of Kuhn Poker, in code: deals, legal moves, the strict parser and the payoffs.

Kuhn Poker (Kuhn 1950; the two-seat game SPIRAL, arXiv 2506.24119, trains on): three cards
J < Q < K, each seat antes 1 and gets one card. player_0 acts first: check (c) or bet (b).
After a check player_1 checks (showdown, pot 2) or bets; after a bet the other seat calls (c,
showdown, pot 4) or folds (f). The winner takes the pot. A history is the string of moves, so
the game has five terminal histories ("cc", "bc", "bf", "cbc", "cbf") and four decision points
("", "c", "b", "cb"): with three cards, 12 information sets.

An illegal or malformed move loses the hand for the seat that made it, as if it had folded
(it forfeits what it put in the pot): the rules fail closed, the model is never trusted.
"""

from __future__ import annotations

__all__ = [
    "CARDS",
    "DEALS",
    "HISTORIES",
    "chips",
    "forfeit",
    "is_terminal",
    "legal_moves",
    "parse_move",
    "prompt",
    "to_move",
]

CARDS = ("J", "Q", "K")
"""The deck, lowest first."""

HISTORIES = ("", "c", "b", "cb")
"""The decision points, in order of play."""

DEALS: tuple[tuple[str, str], ...] = tuple((a, b) for a in CARDS for b in CARDS if a != b)
"""The six deals (player_0's card, player_1's card), each equally likely."""

_TERMINAL = ("cc", "bc", "bf", "cbc", "cbf")


def to_move(history: str) -> int:
    """The seat (0 or 1) whose turn it is: the seats alternate, player_0 first."""
    return len(history) % 2


def legal_moves(history: str) -> str:
    """The letters the seat to move may play: check/bet when no bet is open, call/fold after one."""
    if history not in HISTORIES:
        raise ValueError(f"no decision at history {history!r}")
    return "cf" if history.endswith("b") else "cb"


def is_terminal(history: str) -> bool:
    """Whether the hand is over after `history`."""
    return history in _TERMINAL


def parse_move(text: str, history: str) -> str | None:
    """The move `text` plays at `history`: after strip, exactly one legal letter, else None."""
    move = text.strip()
    return move if len(move) == 1 and move in legal_moves(history) else None


def _put_in(history: str, seat: int) -> int:
    """Chips `seat` has in the pot after `history`: the ante plus 1 for each bet or call."""
    paid = 1
    for i, move in enumerate(history):
        bet_open = "b" in history[:i]
        if i % 2 == seat and (move == "b" or (move == "c" and bet_open)):
            paid += 1
    return paid


def chips(cards: tuple[str, str] | list[str], history: str) -> int:
    """player_0's winnings at a terminal `history` (player_1 wins the negative: zero-sum)."""
    if not is_terminal(history):
        raise ValueError(f"history {history!r} is not the end of a hand")
    if history.endswith("f"):  # the folder (the seat to move at the fold) loses its stake
        folder = (len(history) - 1) % 2
        stake = _put_in(history[:-1], folder)
        return -stake if folder == 0 else stake
    stake = _put_in(history, 0)  # a showdown: both seats put in the same
    return stake if CARDS.index(cards[0]) > CARDS.index(cards[1]) else -stake


def forfeit(history: str, seat: int) -> int:
    """player_0's winnings when `seat` loses the hand by an illegal move at `history`."""
    stake = _put_in(history, seat)
    return -stake if seat == 0 else stake


def prompt(card: str, history: str) -> str:
    """What the seat to move sees: its own card and the moves so far (short, byte-friendly)."""
    return f"kuhn card {card} history {history}"
