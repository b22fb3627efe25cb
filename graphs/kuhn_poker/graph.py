"""The Kuhn Poker graph: the seat to move asks its policy, the rules check the move, repeat.

    START -> move -> rules --hand goes on--> move (the loop)
                          \\--showdown, fold or illegal move--> END

Both seats are the one shared policy, asked as roles "player_0" and "player_1" so each seat's
moves are recorded (and credited) apart. The rules node is code: a move that is not exactly one
legal letter loses the hand for its seat (fail closed). `score` pays every move the chips its seat
won or lost in the hand (zero-sum; Kuhn has no draws), or with `reward: sign` only their sign;
an illegal move itself pays `illegal_penalty` more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from sparring.errors import GameError
from sparring.graphs.game import Payout, Scoring
from sparring.graphs.kuhn_poker.config import KuhnConfig
from sparring.graphs.kuhn_poker.rules import (
    CARDS,
    chips,
    forfeit,
    is_terminal,
    legal_moves,
    parse_move,
    prompt,
    to_move,
)
from sparring.graphs.policies import Policies
from sparring.messages import Task, Verdict
from sparring.policy.base import SamplingParams
from sparring.roles.call import Call

__all__ = ["SEATS", "KuhnState", "build", "score", "start"]

SEATS = ("player_0", "player_1")
"""The role of each seat, player_0 first to act."""


class KuhnState(TypedDict, total=False):
    """One hand as the nodes pass it along."""

    cards: list[str]  # [player_0's card, player_1's card]
    history: str  # the legal moves so far, e.g. "cb"
    last: str  # the raw text of the move just made
    illegal: int | None  # the seat that made an illegal move, which lost the hand
    chips: int | None  # player_0's winnings once the hand is over


def start(task: Task, cfg: KuhnConfig) -> dict[str, Any]:
    """The input state of a deal; refuses anything but two distinct cards of J, Q, K."""
    cards = task.params.get("cards")
    if (
        not isinstance(cards, list)
        or len(cards) != 2
        or not all(isinstance(c, str) and c in CARDS for c in cards)
        or cards[0] == cards[1]
    ):
        raise GameError(
            f"kuhn_poker task needs params.cards: two distinct of J, Q, K; got {cards!r}"
        )
    return {"cards": [str(c) for c in cards], "history": "", "illegal": None, "chips": None}


def build(policies: Policies, cfg: KuhnConfig) -> Any:
    """Compile the Kuhn Poker loop over `policies` (done once per worker)."""
    players = [policies.for_role(seat) for seat in SEATS]
    sampling = SamplingParams(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature)

    async def move(state: KuhnState) -> dict[str, Any]:
        seat, history = to_move(state["history"]), state["history"]
        generation = await players[seat].generate(prompt(state["cards"][seat], history), sampling)
        return {"last": generation.text}

    async def rules(state: KuhnState) -> dict[str, Any]:
        history = state["history"]
        seat = to_move(history)
        played = parse_move(state["last"], history)
        if played is None:
            return {"illegal": seat, "chips": forfeit(history, seat)}
        history += played
        if is_terminal(history):
            return {"history": history, "chips": chips(state["cards"], history)}
        return {"history": history}

    def next_step(state: KuhnState) -> str:
        return END if state.get("chips") is not None else "move"

    graph = StateGraph(KuhnState)
    graph.add_node("move", move)
    graph.add_node("rules", rules)
    graph.add_edge(START, "move")
    graph.add_edge("move", "rules")
    graph.add_conditional_edges("rules", next_step, ["move", END])
    return graph.compile()


def score(state: dict[str, Any], calls: Sequence[Call], cfg: KuhnConfig) -> Scoring:
    """Pay every move its seat's chips (or their sign); a verdict per seat, and per illegal move."""
    won = state["chips"] > 0  # player_0 won (zero-sum, no draws)
    illegal: int | None = state.get("illegal")
    cards, history = state["cards"], state["history"]
    how = (
        f"{SEATS[illegal]} moved illegally after history {history!r}"
        if illegal is not None
        else f"cards {cards[0]} v {cards[1]}, history {history}"
    )
    paid = float(state["chips"]) if cfg.reward == "chips" else (1.0 if won else -1.0)
    outcome = {SEATS[0]: paid, SEATS[1]: -paid}
    payouts, verdicts = [], []
    moves = [c for c in calls if c.role in SEATS]
    for i, call in enumerate(moves):
        reward = outcome[call.role]
        verb = "won" if reward > 0 else "lost"
        reason = f"{call.role} {verb}: {how}"
        if illegal is not None and i == len(moves) - 1:  # the move that ended the hand
            reward -= cfg.illegal_penalty
            reason += f", and this move pays {cfg.illegal_penalty:g} more for being illegal"
            verdicts.append(
                Verdict(
                    role=call.role,
                    name="legal_move",
                    ok=False,
                    reason=f"{call.text.strip()!r} is not one of {legal_moves(history)!r}",
                    sample_id=call.id,
                )
            )
        payouts.append(Payout(call_id=call.id, reward=reward, reason=reason))
    for seat in SEATS:
        verdicts.append(Verdict(role=seat, name="won", ok=outcome[seat] > 0, reason=how))
    stats = {"chips/player_0": float(state["chips"]), "illegal": float(illegal is not None)}
    return Scoring(payouts=payouts, verdicts=verdicts, stats=stats)
