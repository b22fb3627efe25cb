"""Reward shapes games share: what a proposer is paid for a question solved at rate p.

A proposer in self-play is paid by how its question went for the solvers, and the seed papers
use three shapes of the solve rate p (over the solvers' attempts at one valid question):

- inverse_solve_rate: 1 - p (Search Self-Play, arXiv 2510.18821): harder is better;
- absolute_zero: 1 - p, but 0 at p = 0 or 1 (Absolute Zero, arXiv 2505.03335): a question no
  one or everyone solves teaches nothing;
- learnability: 4p(1 - p), highest at p = 1/2 (the "learnability" of curriculum work).
"""

from __future__ import annotations

from typing import Literal

__all__ = ["ProposerReward", "proposer_reward"]

ProposerReward = Literal["inverse_solve_rate", "absolute_zero", "learnability"]
"""The shape of the proposer's reward, by name (a game's config field)."""


def proposer_reward(rule: ProposerReward, p: float) -> tuple[float, str]:
    """The proposer's reward for a valid question solved at rate `p`, and the reason."""
    if rule == "inverse_solve_rate":
        return 1.0 - p, f"1 - solve rate {p:.2f}"
    if rule == "absolute_zero":
        if p in (0.0, 1.0):
            return 0.0, f"solve rate {p:.2f}: nothing to learn (Absolute Zero)"
        return 1.0 - p, f"1 - solve rate {p:.2f} (Absolute Zero)"
    return 4.0 * p * (1.0 - p), f"4p(1-p) at solve rate {p:.2f}"
