"""The reward rules of arith: solver 1/0, proposer paid for valid questions that teach.

Solver: 1 if its final number is the expression's last digit, else 0. The n attempts at one
question form one group (their advantages are relative to each other).
Proposer, on a valid question with solve rate p (`ArithConfig.proposer_reward`):
  inverse_solve_rate  1 - p                       (DESIGN.md's default form)
  absolute_zero       0 if p in {0, 1} else 1 - p  (Zhao et al. 2025, "Absolute Zero",
                                                    arXiv:2505.03335: learnability reward)
  learnability        4 p (1 - p)                 (peaks at p = 0.5)
On an invalid question (unparsable, wrong value, wrong number of ops) the proposer gets the
format penalty and no solver ran, so no solver sample is trained (the verdict says so). The
proposer's one sample per episode is its own group of size 1 (the trainer uses a per-role
baseline for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sparring.graphs.arith.config import ArithConfig
from sparring.graphs.game import Payout, Scoring
from sparring.messages import Role, Verdict
from sparring.roles.call import Call
from sparring.roles.judge import Judgement
from sparring.roles.proposer import Proposal
from sparring.roles.rewards import proposer_reward
from sparring.roles.solver import Solution
from sparring.roles.verifier import Verification

__all__ = ["proposer_reward", "score"]


def score(state: dict[str, Any], calls: Sequence[Call], cfg: ArithConfig) -> Scoring:
    """Pay the proposer and the solvers of one finished arith episode."""
    proposal: Proposal = state["proposal"]
    verification: Verification = state["verification"]
    difficulty = float(state["difficulty"])
    proposer_call = proposal.calls[0].id if proposal.calls else None
    if not verification.valid:
        reason = f"invalid proposal: {verification.reason}; no solver ran, none is trained"
        payouts = _pay(proposer_call, cfg.format_penalty, reason, "proposer")
        verdict = Verdict(
            role=Role.PROPOSER,
            name="valid_proposal",
            ok=False,
            reason=reason,
            sample_id=proposer_call,
        )
        return Scoring(
            payouts=payouts, verdicts=[verdict], stats={"valid": 0.0, "difficulty": difficulty}
        )
    solutions: list[Solution] = state.get("solutions", [])
    judgements: list[Judgement] = state.get("judgements", [])
    payouts, verdicts = (
        [],
        [
            Verdict(
                role=Role.PROPOSER,
                name="valid_proposal",
                ok=True,
                reason=verification.reason,
                sample_id=proposer_call,
            )
        ],
    )
    for solution, judgement in zip(solutions, judgements, strict=True):
        call = solution.calls[0].id if solution.calls else None
        payouts += _pay(call, float(judgement.correct), judgement.reason, "solvers")
        verdicts.append(
            Verdict(
                role=Role.SOLVER,
                name="solved",
                ok=judgement.correct,
                reason=judgement.reason,
                sample_id=call,
            )
        )
    rate = sum(j.correct for j in judgements) / max(len(judgements), 1)
    reward, reason = proposer_reward(cfg.proposer_reward, rate)
    payouts = _pay(proposer_call, reward, reason, "proposer") + payouts
    stats = {"valid": 1.0, "difficulty": difficulty, "solve_rate": rate}
    stats[f"solve_rate/d{int(difficulty)}"] = rate
    return Scoring(payouts=payouts, verdicts=verdicts, stats=stats)


def _pay(call_id: str | None, reward: float, reason: str, group: str) -> list[Payout]:
    """A payout for a call, or none when the role made no policy call (rule-based)."""
    if call_id is None:
        return []
    return [Payout(call_id=call_id, reward=reward, reason=reason, group=group)]
