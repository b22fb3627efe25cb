"""Measuring the code solvers, and teaching the format: held-out evaluation, demonstrations.

The held-out set is fixed: `cfg.eval_programs` generated programs per task type and level,
drawn from `cfg.eval_seed` (the same in every run and process). `evaluate` asks the solver each
one greedily and with the solver's sampling params and reports accuracy per type and level:
`acc_greedy/deduction/d3`, `acc_sampled/abduction/d1`, ... plus the mean per type
(`acc_greedy/deduction`). Abduction answers are checked by running them in the sandbox, as in
play. `ready` is the warm-up's stop: greedy deduction accuracy per level on probe programs drawn
apart from the held-out set (`eval_seed + 1`). `demonstration` draws one warm-up example.
"""

from __future__ import annotations

import asyncio
import random

from sparring.graphs.code.config import CodeConfig, TaskType
from sparring.graphs.code.graph import attempt
from sparring.graphs.code.programs import Program, heldout_programs, random_program
from sparring.graphs.code.prompts import proposer_messages, solver_messages, task_text
from sparring.graphs.code.validity import Check
from sparring.messages import ChatMessage
from sparring.policy.base import Policy, SamplingParams

__all__ = ["demonstration", "evaluate", "ready"]


def _check(p: Program) -> Check:
    return Check(status="valid", reason="generated", program=p.source, input=str(p.input),
                 output=str(p.output), steps=len(p.steps))  # fmt: skip


async def _accuracy(
    policy: Policy, task_type: TaskType, programs: list[Program], cfg: CodeConfig,
    params: SamplingParams,
) -> float:  # fmt: skip
    results = await asyncio.gather(
        *(attempt(policy, task_type, _check(p), cfg, params) for p in programs)
    )
    return sum(r.correct for r in results) / max(len(results), 1)


async def evaluate(policy: Policy, cfg: CodeConfig) -> dict[str, float]:
    """Solver accuracy on the held-out set, greedy and sampled, per task type and level."""
    greedy = cfg.solver.model_copy(update={"temperature": 0.0})
    out: dict[str, float] = {}
    for name, params in (("acc_greedy", greedy), ("acc_sampled", cfg.solver)):
        for task_type in cfg.task_types:
            accs = await asyncio.gather(
                *(
                    _accuracy(policy, task_type, heldout_programs(d, cfg.eval_programs,
                              cfg.eval_seed), cfg, params)
                    for d in cfg.levels
                )
            )  # fmt: skip
            for d, acc in zip(cfg.levels, accs, strict=True):
                out[f"{name}/{task_type}/d{d}"] = acc
            out[f"{name}/{task_type}"] = sum(accs) / len(accs)
    return out


async def ready(policy: Policy, cfg: CodeConfig) -> bool:
    """Whether greedy deduction accuracy on the probe programs reaches `cfg.warmup_ready`."""
    greedy = cfg.solver.model_copy(update={"temperature": 0.0})
    for d, need in sorted(cfg.warmup_ready.items()):
        probe = heldout_programs(d, cfg.warmup_probe, cfg.eval_seed + 1)
        if await _accuracy(policy, "deduction", probe, cfg, greedy) < need:
            return False
    return True


def demonstration(rng: random.Random, cfg: CodeConfig) -> tuple[list[ChatMessage], str]:
    """One warm-up example: a proposer's task (a `warmup_proposer_share` of the time, at a
    uniformly drawn type and level, with generated references), else a solver's worked answer
    of a type drawn uniformly at a level drawn from `warmup_mix`."""
    task_type = rng.choice(cfg.task_types)
    if rng.random() < cfg.warmup_proposer_share:
        d = rng.choice(cfg.levels)
        refs = [random_program(rng, rng.choice(cfg.levels)) for _ in range(cfg.references)]
        shown = [task_text(r.source, str(r.input)) for r in refs]
        p = random_program(rng, d)
        return proposer_messages(task_type, d, shown), task_text(p.source, str(p.input))
    levels = list(cfg.warmup_mix)
    d = rng.choices(levels, weights=[cfg.warmup_mix[x] for x in levels])[0]
    p = random_program(rng, d)
    if task_type == "deduction":
        return solver_messages(task_type, p.source, str(p.input)), p.forward_trace()
    return solver_messages(task_type, p.source, str(p.output)), p.backward_trace()
