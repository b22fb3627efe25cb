"""The reward rules of the code game: solvers by execution, the proposer by learnability.

Solver: 1 if its answer is right (deduction: its literal equals the program's output;
abduction: the program run on its literal in the sandbox returns the output), else 0. The n
attempts at one task form one group (GRPO). An attempt whose sandbox run was lost is not paid
(and so not trained).
Proposer, on a valid task with solve rate p over the scored attempts
(`CodeConfig.proposer_reward`, default AZR's): 0 if p is 0 or 1, else 1 - p. An invalid
proposal gets the format penalty; a proposal whose check the sandbox lost is not paid at all.

Credit per (task type, role), AZR's TRR++: each type has its own proposer and solver role
(`proposer_deduction`, `solver_abduction`, ...), so each (type, role) has its own baseline and
its own `trained/<role>` count; AZR normalises by a batch mean and std per (type, role), here
the proposer's baseline is the role's running mean (rae) and the solvers' the group's (grpo).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sparring.graphs.code.config import CodeConfig
from sparring.graphs.code.graph import Attempt
from sparring.graphs.code.source import proposer_role, solver_role
from sparring.graphs.code.validity import Check
from sparring.graphs.game import Payout, Scoring
from sparring.messages import Verdict
from sparring.roles.call import Call
from sparring.roles.rewards import proposer_reward

__all__ = ["score"]


def score(state: dict[str, Any], calls: Sequence[Call], cfg: CodeConfig) -> Scoring:
    """Pay the proposer and the solvers of one finished code episode."""
    check: Check = state["check"]
    task_type, difficulty = state["type"], int(state["difficulty"])
    proposer, call_id = proposer_role(task_type), state.get("proposer_call")
    level = f"{task_type}/d{difficulty}"
    stats = {"difficulty": float(difficulty)}
    verdict = Verdict(role=proposer, name="valid_task", ok=check.valid, reason=check.reason,
                      sample_id=call_id)  # fmt: skip
    if check.status == "lost":
        return Scoring(verdicts=[verdict], stats=stats)
    if not check.valid:
        reason = f"invalid task: {check.reason}; no solver ran"
        penalty = _pay(call_id, cfg.format_penalty, reason, "proposer")
        return Scoring(payouts=penalty, verdicts=[verdict], stats=stats | _valid(task_type, 0.0))
    attempts: list[Attempt] = [a for a in state.get("attempts", []) if not a.lost]
    payouts: list[Payout] = []
    verdicts = [verdict]
    for a in attempts:
        payouts += _pay(a.call_id, float(a.correct), a.reason, "solvers")
        verdicts.append(Verdict(role=solver_role(task_type), name="solved", ok=a.correct,
                                reason=a.reason, sample_id=a.call_id))  # fmt: skip
    stats |= _valid(task_type, 1.0)
    if attempts:
        rate = sum(a.correct for a in attempts) / len(attempts)
        reward, reason = proposer_reward(cfg.proposer_reward, rate)
        payouts = _pay(call_id, reward, reason, "proposer") + payouts
        stats |= {"solve_rate": rate, f"solve_rate/{task_type}": rate, f"solve_rate/{level}": rate}
    return Scoring(payouts=payouts, verdicts=verdicts, stats=stats)


def _valid(task_type: str, ok: float) -> dict[str, float]:
    return {"valid": ok, f"valid/{task_type}": ok}


def _pay(call_id: str | None, reward: float, reason: str, group: str) -> list[Payout]:
    """A payout for a call, or none when no policy call was made (an oracle task)."""
    if call_id is None:
        return []
    return [Payout(call_id=call_id, reward=reward, reason=reason, group=group)]
