"""Which policy plays which role: the shared trainable one by default, others by override.

    Policies(default=policy, overrides={"judge": frozen_judge})

A game's build function asks `policies.for_role("solver")` (any role name the game plays) for
each node's policy and gets a
recording wrapper (see `recording`), so every call is kept with its role without the game doing
anything. Only calls of the default policy are trainable: an overridden role (a fixed judge
model, say) is recorded in the episode but never becomes a Sample.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sparring.graphs.recording import RecordingPolicy
from sparring.messages import role_name
from sparring.policy.base import Policy

__all__ = ["Policies"]


@dataclass(frozen=True)
class Policies:
    """The policies a game is built with."""

    default: Policy
    """The shared trainable policy: plays every role not overridden."""
    overrides: Mapping[str, Policy] = field(default_factory=dict)
    """Roles bound to another policy (not trained through this run)."""

    def for_role(self, role: str) -> RecordingPolicy:
        """The policy playing `role`, wrapped so each of its calls is recorded."""
        inner = self.overrides.get(role_name(role), self.default)
        return RecordingPolicy(inner, role, trainable=inner is self.default)
