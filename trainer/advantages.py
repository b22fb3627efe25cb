"""Advantage estimators: how much better than expected each sample's reward was, per role.

`estimate(groups, config, rae)` turns complete groups of rewarded samples into one advantage per
sample, choosing each group's estimator by its game and role (`TrainerConfig.estimator`):

- grpo: (r - group mean) / group std (population std; DeepSeekMath's GRPO).
- rloo: r - mean of the *other* samples of the group (Ahmadian et al. 2024), = n/(n-1) (r - mean).
- reinforce: r - mean reward of the role's samples in this batch (a batch baseline).
- rae: r - b[game, role], an EMA of past rewards of that role in that game (SPIRAL's
  role-conditioned advantage estimation); b is updated after each sample, in arrival order.

Group-relative estimators (grpo, rloo) see nothing in a group whose rewards are all equal (a group
of one included): such a group is returned as None and the caller counts and skips it. The batch
and EMA baselines train groups of any size, which is why a role whose every call is its own group
(arith's proposer, each guess of guess_number, each seat's move) declares rae.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from sparring.messages import Sample
from sparring.trainer.config import TrainerConfig

__all__ = ["RaeBaselines", "estimate", "grpo", "reward_of", "rloo"]

_STD_EPS = 1e-6


def reward_of(sample: Sample) -> float:
    """The sample's reward; the loop drops unrewarded samples before they get here."""
    if sample.reward is None:
        raise ValueError(f"sample {sample.id} has no reward: drop it before estimating")
    return sample.reward


def _all_equal(rewards: Sequence[float]) -> bool:
    return max(rewards) - min(rewards) == 0.0


def grpo(rewards: Sequence[float]) -> list[float] | None:
    """Group-normalised advantages, or None when the group carries no signal."""
    if _all_equal(rewards):
        return None
    mean = sum(rewards) / len(rewards)
    std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / len(rewards))
    return [(r - mean) / (std + _STD_EPS) for r in rewards]


def rloo(rewards: Sequence[float]) -> list[float] | None:
    """Leave-one-out advantages, or None when the group carries no signal."""
    if _all_equal(rewards):
        return None
    n, total = len(rewards), sum(rewards)
    return [r - (total - r) / (n - 1) for r in rewards]


class RaeBaselines:
    """SPIRAL's per-(game, role) EMA reward baselines; part of the trainer's checkpointed state."""

    def __init__(self, decay: float, values: dict[str, float] | None = None) -> None:
        self.decay = decay
        self.values: dict[str, float] = dict(values or {})

    def advantages(self, key: str, rewards: Sequence[float]) -> list[float]:
        """r - b for each reward, updating b after each one (SPIRAL starts b at 0)."""
        out = []
        for r in rewards:
            b = self.values.get(key, 0.0)
            out.append(r - b)
            self.values[key] = self.decay * b + (1 - self.decay) * r
        return out


def estimate(
    groups: Sequence[Sequence[Sample]], config: TrainerConfig, rae: RaeBaselines
) -> list[list[float] | None]:
    """One advantage per sample of each group (aligned), or None for a group without signal."""
    batch_rewards: dict[tuple[str, str], list[float]] = defaultdict(list)
    for group in groups:
        batch_rewards[group[0].game, group[0].role].extend(reward_of(s) for s in group)
    out: list[list[float] | None] = []
    for group in groups:
        key = (group[0].game, group[0].role)
        rewards = [reward_of(s) for s in group]
        name = config.estimator(*key)
        if name == "grpo":
            out.append(grpo(rewards))
        elif name == "rloo":
            out.append(rloo(rewards))
        elif name == "reinforce":
            baseline = sum(batch_rewards[key]) / len(batch_rewards[key])
            out.append([r - baseline for r in rewards])
        else:
            out.append(rae.advantages("/".join(key), rewards))
    return out
