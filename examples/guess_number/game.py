"""Guess the number: a multi-turn game in one file, run with `sparring run path/to/game.py`.

A different shape from arith: one role in a loop instead of a fan-out. The solver guesses a
secret number; a rule-based check answers "higher", "lower" or "correct"; the conversation grows
turn by turn until the guess is right or the turns run out.

    START -> guess -> check --not yet--> guess (the loop)
                           \\--right or out of turns--> END

It also shows that a game need not use sparring's roles: the guess node calls its policy
directly with the whole conversation, and the call is still recorded (as "solver", with the
node name), because the policy came from `policies.for_role`. The reward is terminal: found at
turn t of T pays 1 - (t - 1) / T to every guess of the episode. Every guess is its own group
(they share one reward, so comparing them with each other would teach nothing), and the game
declares that the solver is credited against its running baseline (RAE) instead of GRPO.
"""

from __future__ import annotations

import operator
import random
import re
from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from sparring.graphs import (
    Call,
    ChatMessage,
    Game,
    Payout,
    Policies,
    RoleSpec,
    SamplingParams,
    Scoring,
    Task,
    Verdict,
)


class GuessConfig(BaseModel):
    """The guess game's config section."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    low: int = Field(default=0, description="Smallest secret.")
    high: int = Field(default=31, description="Largest secret.")
    max_turns: int = Field(default=6, ge=1, description="Guesses allowed per episode.")
    sampling: SamplingParams = Field(
        default=SamplingParams(max_new_tokens=4), description="Solver sampling."
    )


class GuessState(TypedDict, total=False):
    secret: int
    history: Annotated[list[ChatMessage], operator.add]  # the conversation after the rules
    last_guess: str
    turns: int
    found: bool


def rules(cfg: GuessConfig) -> ChatMessage:
    return ChatMessage(role="user", content=f"guess my number {cfg.low}-{cfg.high}")


def feedback(guess: str, secret: int, cfg: GuessConfig) -> str:
    """The check's answer to one guess (strict: a bare integer in range, or "invalid")."""
    if not re.fullmatch(r"[0-9]{1,6}", guess.strip()):
        return "invalid"
    value = int(guess)
    if not cfg.low <= value <= cfg.high:
        return "invalid"
    return "correct" if value == secret else ("higher" if value < secret else "lower")


def build(policies: Policies, cfg: GuessConfig) -> Any:
    solver = policies.for_role("solver")

    async def guess(state: GuessState) -> dict[str, Any]:
        messages = [rules(cfg), *state.get("history", [])]
        generation = await solver.generate(messages, cfg.sampling)
        text = generation.text.strip()
        return {
            "history": [ChatMessage(role="assistant", content=text)],
            "last_guess": text,
            "turns": state.get("turns", 0) + 1,
        }

    async def check(state: GuessState) -> dict[str, Any]:
        answer = feedback(state["last_guess"], state["secret"], cfg)
        return {"history": [ChatMessage(role="user", content=answer)], "found": answer == "correct"}

    def next_step(state: GuessState) -> str:
        return END if state["found"] or state["turns"] >= cfg.max_turns else "guess"

    graph = StateGraph(GuessState)
    graph.add_node("guess", guess)
    graph.add_node("check", check)
    graph.add_edge(START, "guess")
    graph.add_edge("guess", "check")
    graph.add_conditional_edges("check", next_step, ["guess", END])
    return graph.compile()


def start(task: Task, cfg: GuessConfig) -> dict[str, Any]:
    secret = task.params.get("secret")
    if not isinstance(secret, int) or not cfg.low <= secret <= cfg.high:
        raise ValueError(f"guess task needs params.secret in {cfg.low}..{cfg.high}")
    return {"secret": secret, "turns": 0, "found": False}


def score(state: dict[str, Any], calls: Sequence[Call], cfg: GuessConfig) -> Scoring:
    turns, found = state["turns"], state["found"]
    reward = 1.0 - (turns - 1) / cfg.max_turns if found else 0.0
    reason = f"found in {turns} turns" if found else f"not found in {turns} turns"
    guesses = [c for c in calls if c.role == "solver"]
    payouts = [
        Payout(call_id=c.id, reward=reward, reason=reason, group=f"guess{i}")
        for i, c in enumerate(guesses)
    ]
    verdict = Verdict(role="solver", name="found", ok=found, reason=reason)
    return Scoring(
        payouts=payouts, verdicts=[verdict], stats={"found": float(found), "turns": float(turns)}
    )


def tasks(rng: random.Random, cfg: GuessConfig) -> dict[str, JsonValue]:
    """Uniform secrets; nothing to adapt."""
    return {"secret": rng.randint(cfg.low, cfg.high)}


def demonstration(rng: random.Random, cfg: GuessConfig) -> tuple[list[ChatMessage], str]:
    """A binary-search conversation cut at a random turn, and the next bisecting guess."""
    secret, low, high = rng.randint(cfg.low, cfg.high), cfg.low, cfg.high
    messages = [rules(cfg)]
    for _ in range(rng.randrange(cfg.max_turns)):
        guess = (low + high) // 2
        if guess == secret:
            break
        answer = feedback(str(guess), secret, cfg)
        messages += [
            ChatMessage(role="assistant", content=str(guess)),
            ChatMessage(role="user", content=answer),
        ]
        low, high = (guess + 1, high) if answer == "higher" else (low, guess - 1)
    return messages, str((low + high) // 2)


game = Game(
    name="guess_number",
    description="guess a secret number in a multi-turn higher/lower loop",
    config_model=GuessConfig,
    build=build,
    start=start,
    score=score,
    tasks=tasks,
    demonstrations=demonstration,
    roles={"solver": RoleSpec(estimator="rae", grouping="call")},
)
