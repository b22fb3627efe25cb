"""Credit: how a role's rewards become advantages, as a game declares it and a run may override.

A game states, per role it plays, how the role's calls are grouped and which advantage estimator
suits them (`RoleSpec`); the run config may override the estimator (`trainer.estimators`, keyed
by role name or by "game/role"). `resolve_estimators` merges the two for the trainer, and refuses
a combination that would train nothing: singleton groups under a group-relative estimator (GRPO
or RLOO compare a sample with the other members of its group; alone, it has no one to beat).

Groupings:
- episode: calls the reward rules pay under the same group key in one episode are compared
  (arith's n solver attempts at one question).
- call: every call is its own group (a proposer's one question per episode; every guess of a
  multi-turn game); only a role baseline (rae) or a batch baseline (reinforce) trains it.
- episodes: the role's calls from `span` consecutive episodes of a worker form one group
  (all moves of a seat across a batch of games).

This module sits beside the messages: the games (graphs/) declare credit, the trainer (trainer/)
applies it, and neither imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sparring.errors import ConfigError
from sparring.messages import role_name

__all__ = [
    "GROUP_RELATIVE",
    "Estimator",
    "Grouping",
    "RoleSpec",
    "estimator_for",
    "resolve_estimators",
]

Estimator = Literal["grpo", "rloo", "reinforce", "rae"]
"""grpo: group mean/std; rloo: leave-one-out group mean; reinforce: batch mean of the role;
rae: SPIRAL's role-conditioned EMA baseline (per game and role)."""

GROUP_RELATIVE: frozenset[str] = frozenset({"grpo", "rloo"})
"""Estimators whose baseline is the group itself: a group with all-equal rewards has no signal."""

Grouping = Literal["episode", "call", "episodes"]


class RoleSpec(BaseModel):
    """How one role of a game is credited (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    estimator: Estimator = Field("grpo", description="Default advantage estimator of the role.")
    grouping: Grouping = Field("episode", description="Which of the role's calls form a group.")
    span: int = Field(
        8, ge=2, description="With grouping 'episodes': how many episodes one group spans."
    )
    description: str = Field("", description="What the role does, for `sparring games`.")


def estimator_for(
    estimators: Mapping[str, Estimator], default: Estimator, game: str, role: str
) -> Estimator:
    """The estimator of `role` in `game`: "game/role" beats "role" beats `default`."""
    return estimators.get(f"{game}/{role}", estimators.get(role, default))


def resolve_estimators(
    game: str,
    roles: Mapping[str, RoleSpec],
    overrides: Mapping[str, Estimator],
    default: Estimator,
) -> dict[str, Estimator]:
    """The trainer's estimator table: the run's overrides, plus each declared role's estimator
    under "game/role" where the run does not set one. Raises ConfigError for a role the result
    would leave untrainable, naming the role and the fix."""
    for key in overrides:
        role_name(key.rsplit("/", 1)[-1])  # a typo in a role name is an error, not a no-op
    table: dict[str, Estimator] = dict(overrides)
    for role, spec in roles.items():
        if f"{game}/{role}" not in overrides and role not in overrides:
            table[f"{game}/{role}"] = spec.estimator
        chosen = estimator_for(table, default, game, role)
        if spec.grouping == "call" and chosen in GROUP_RELATIVE:
            others = "'rae' (a running baseline per role) or 'reinforce' (the batch mean)"
            raise ConfigError(
                f"trainer.estimators.{role}",
                f"game {game!r}, role {role!r}: each call is its own group (grouping 'call'), "
                f"so the group-relative estimator {chosen!r} would train none of its samples; "
                f"set it to {others}",
            )
    return table
