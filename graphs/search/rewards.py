"""The reward rules of the search game: solver 1/0 by exact match, proposer paid for hard, valid
questions.

Solver: 1 if its answer matches the gold answer after SQuAD normalisation (exact match), else 0;
token F1 is recorded in the stats, not paid. The n attempts at one question form one group
(GRPO: each attempt is compared with the others at the same question, as in SSP).
Proposer (one call per episode, its own group; RAE, a running baseline per role):
  a filter failed (format, length, answer shown, too few or repeated searches)
      -> `format_penalty`; no verifier and no solver ran, none is trained
  the filters passed, the RAG verifier did not answer the gold (or failed, or timed out)
      -> `unverified_reward` (SSP pays an unverified question nothing); no solver ran
  verified, solved at rate p by the n solvers (`proposer_reward`):
      inverse_solve_rate  1 - p                        (SSP's default)
      absolute_zero       0 if p in {0, 1} else 1 - p  (Absolute Zero, arXiv:2505.03335)
      learnability        4 p (1 - p)                  (1 at p = 0.5)
With `questions = 'oracle'` there is no proposer: the solvers are paid as above and nothing
else. The RAG verifier's call is never paid, so never trained. Verdicts record every check with its
reason, and the documents each role retrieved (by id) and the verifier saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sparring.graphs.game import Payout, Scoring
from sparring.graphs.search.config import SearchGameConfig
from sparring.graphs.search.graph import Attempt, Proposal
from sparring.graphs.search.verifier import RagVerdict
from sparring.messages import Role, Verdict
from sparring.roles.call import Call
from sparring.roles.rewards import proposer_reward

__all__ = ["proposer_reward", "score", "score_proposal"]


def score(state: dict[str, Any], calls: Sequence[Call], cfg: SearchGameConfig) -> Scoring:
    """Pay the proposer and the solvers of one finished search episode."""
    hops = int(state["hops"])
    attempts: list[Attempt] = state.get("attempts", [])
    if "proposal" not in state:  # an oracle question (questions='oracle'): solvers only
        paid, said, solver_only = _solvers(attempts, hops)
        return Scoring(payouts=paid, verdicts=said, stats={"hops": float(hops), **solver_only})
    verification: RagVerdict | None = state.get("verification")
    payouts: list[Payout] = []
    solved: list[Verdict] = []
    solver_stats: dict[str, float] = {}
    if verification is not None and verification.valid:
        payouts, solved, solver_stats = _solvers(attempts, hops)
    pay, verdicts, stats = score_proposal(
        state["proposal"], verification, solver_stats.get("solve_rate"), hops, cfg
    )
    return Scoring(payouts=[pay, *payouts], verdicts=verdicts + solved, stats=stats | solver_stats)


def score_proposal(
    proposal: Proposal,
    verification: RagVerdict | None,
    solve_rate: float | None,
    hops: int,
    cfg: SearchGameConfig,
) -> tuple[Payout, list[Verdict], dict[str, float]]:
    """The proposer's payout, verdicts and stats for one proposal: `verification` is None when
    a filter failed (no check ran), `solve_rate` None when the question was not verified (no
    solver ran). The hiersearch game pays its proposer by this rule too, its planners' exact
    match as the solve rate."""
    pid = proposal.call_id
    verdicts = [
        Verdict(
            role=Role.PROPOSER, name=f"filter/{c.name}", ok=c.ok, reason=c.reason, sample_id=pid
        )
        for c in proposal.checks
    ]
    verdicts.append(_searched(Role.PROPOSER, proposal.queries, proposal.document_ids, pid))
    stats = {"hops": float(hops), "searches": float(len(proposal.queries))}
    if not proposal.valid_format:
        failed = ", ".join(c.name for c in proposal.checks if not c.ok)
        reason = f"filters failed ({failed}); no verifier or solver ran"
        stats |= {"valid": 0.0, f"valid/h{hops}": 0.0, "filtered": 1.0}
        return _pay(pid, cfg.format_penalty, reason), verdicts, stats
    if verification is None:
        raise ValueError("a proposal that passed the filters needs its RAG verdict")
    verdicts.append(_rag(verification, pid))
    if not verification.valid:
        reason = f"not verified: {verification.reason}; no solver ran"
        stats |= {"valid": 0.0, f"valid/h{hops}": 0.0, "filtered": 0.0}
        return _pay(pid, cfg.unverified_reward, reason), verdicts, stats
    if solve_rate is None:
        raise ValueError("a verified proposal needs its solve rate")
    reward, reason = proposer_reward(cfg.proposer_reward, solve_rate)
    stats |= {"valid": 1.0, f"valid/h{hops}": 1.0, "filtered": 0.0}
    return _pay(pid, reward, reason), verdicts, stats


def _solvers(
    attempts: list[Attempt], hops: int
) -> tuple[list[Payout], list[Verdict], dict[str, float]]:
    """The solvers' payouts (one group), verdicts and stats."""
    payouts, verdicts = [], []
    for a in attempts:
        reason = f"answered {a.answer!r}: EM {a.em:.0f}, F1 {a.f1:.2f}"
        payouts.append(_pay(a.call_id, a.em, reason, group="solvers"))
        verdicts.append(
            Verdict(
                role=Role.SOLVER, name="solved", ok=a.em == 1.0, reason=reason, sample_id=a.call_id
            )
        )
        verdicts.append(_searched(Role.SOLVER, a.queries, a.document_ids, a.call_id))
    n = max(len(attempts), 1)
    rate = sum(a.em for a in attempts) / n
    stats = {
        "solve_rate": rate,
        f"solve_rate/h{hops}": rate,
        "f1": sum(a.f1 for a in attempts) / n,
        "signal": float(0.0 < rate < 1.0),
        "solver_searches": sum(len(a.queries) for a in attempts) / n,
    }
    return payouts, verdicts, stats


def _pay(call_id: str, reward: float, reason: str, group: str | None = None) -> Payout:
    return Payout(call_id=call_id, reward=reward, reason=reason, group=group)


def _searched(role: Role, queries: list[str], ids: list[str], call_id: str) -> Verdict:
    """A record of what a role searched and which documents came back (by id)."""
    shown = "; ".join(repr(q) for q in queries) or "nothing"
    return Verdict(
        role=role,
        name="searched",
        ok=bool(queries),
        reason=f"searched {shown} -> documents {', '.join(ids) or 'none'}",
        sample_id=call_id,
    )


def _rag(verification: RagVerdict, call_id: str) -> Verdict:
    noise = set(verification.noise_ids)
    seen = ", ".join(f"{i} (noise)" if i in noise else i for i in verification.document_ids)
    return Verdict(
        role=Role.PROPOSER,
        name="rag_verified",
        ok=verification.valid,
        reason=f"{verification.reason}; saw {seen or 'no documents'}",
        sample_id=call_id,
    )
