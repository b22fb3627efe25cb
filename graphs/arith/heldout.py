"""Measuring the arith solver, and teaching it the format: held-out evaluation, demonstrations.

The held-out set is fixed: `cfg.eval_problems` random expressions per difficulty level, drawn
from `cfg.eval_seed`, the same in every run and process, so figures from different runs compare.
`evaluate` asks the solver role each problem greedily (temperature 0) and with the solver's
sampling params, and reports accuracy per level: {"acc_greedy/d4": 0.74, "acc_sampled/d4": ...}
plus the means over levels. `demonstrations` draws one supervised warm-up example.
"""

from __future__ import annotations

import asyncio
import random

from sparring.graphs.arith.config import ArithConfig
from sparring.messages import ChatMessage
from sparring.policy.base import Policy, SamplingParams
from sparring.roles.proposer import backward_chain, proposer_messages
from sparring.roles.solver import solve_expression, solver_messages
from sparring.tools.arith import evaluate as evaluate_expression
from sparring.tools.arith import scratchpad

__all__ = ["demonstration", "evaluate", "heldout_problems", "random_expression"]


def random_expression(rng: random.Random, ops: int) -> str:
    """Single digits joined by `ops` random + or - signs, e.g. "5+4-2" for ops=2."""
    text = str(rng.randrange(10))
    for _ in range(ops):
        text += rng.choice("+-") + str(rng.randrange(10))
    return text


def heldout_problems(level: int, n: int, seed: int) -> list[str]:
    """The fixed held-out expressions of one level (same seed, same problems, everywhere)."""
    rng = random.Random(seed * 1000 + level)
    return [random_expression(rng, level) for _ in range(n)]


async def evaluate(policy: Policy, cfg: ArithConfig) -> dict[str, float]:
    """Solver accuracy on the held-out set, greedy and sampled, per level and overall."""
    greedy = cfg.solver.model_copy(update={"temperature": 0.0})
    out: dict[str, float] = {}
    for name, params in (("acc_greedy", greedy), ("acc_sampled", cfg.solver)):
        per_level = await asyncio.gather(
            *(_accuracy(policy, lvl, cfg, params) for lvl in cfg.levels)
        )
        for level, acc in zip(cfg.levels, per_level, strict=True):
            out[f"{name}/d{level}"] = acc
        out[name] = sum(per_level) / len(per_level)
    return out


async def ready(policy: Policy, cfg: ArithConfig) -> bool:
    """Whether a warming-up policy reaches `cfg.warmup_ready` (greedy, on probe problems drawn
    apart from the held-out set), i.e. it knows the easy levels and half-knows the frontier."""
    greedy = cfg.solver.model_copy(update={"temperature": 0.0})
    levels = sorted(cfg.warmup_ready)
    accs = await asyncio.gather(
        *(
            _accuracy(policy, lvl, cfg, greedy, cfg.warmup_probe, cfg.eval_seed + 1)
            for lvl in levels
        )
    )
    return all(acc >= cfg.warmup_ready[lvl] for lvl, acc in zip(levels, accs, strict=True))


async def _accuracy(
    policy: Policy,
    level: int,
    cfg: ArithConfig,
    params: SamplingParams,
    n: int | None = None,
    seed: int | None = None,
) -> float:
    problems = heldout_problems(
        level, n or cfg.eval_problems, cfg.eval_seed if seed is None else seed
    )
    solutions = await asyncio.gather(*(solve_expression(policy, p, params) for p in problems))
    right = sum(
        s.answer == evaluate_expression(p).last_digit
        for p, s in zip(problems, solutions, strict=True)
    )
    return right / len(problems)


def demonstration(rng: random.Random, cfg: ArithConfig) -> tuple[list[ChatMessage], str]:
    """One warm-up example: a solver scratchpad at a level drawn from `cfg.warmup_mix`, or (a
    `cfg.warmup_proposer_share` of the time) a proposer answer at a uniformly drawn level."""
    if rng.random() < cfg.warmup_proposer_share:
        ops = rng.choice(cfg.levels)
        expression = random_expression(rng, ops)
        target = evaluate_expression(expression).last_digit
        return proposer_messages(target, ops), backward_chain(expression)
    levels = list(cfg.warmup_mix)
    ops = rng.choices(levels, weights=[cfg.warmup_mix[d] for d in levels])[0]
    expression = random_expression(rng, ops)
    return solver_messages(expression), scratchpad(expression)
