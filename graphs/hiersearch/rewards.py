"""The reward rules of the hiersearch game: each role paid for its own part where that is checkable.

Planner: 1 if its final answer matches a gold answer after SQuAD normalisation, else 0 (token
F1 recorded, not paid). The `n_planners` attempts at one question form one group (GRPO).

Sub-agents (`local_agent`, `web_agent`; each call its own group with a running baseline, RAE):
a sub-question that names the subject of one of the question's hops (its title, normalised,
inside the sub-question) has a checkable answer, that hop's value: the sub-agent is paid its
exact match against it, right or wrong whatever the planner then did. A sub-question naming no
hop's subject (the planner asked something off the chain) cannot be checked on its own, and
is paid `agent_share` x the planner's exact match. HierSearch trains its agents bottom-up, the
local and web agents first and the planner last; here they train together on one policy, and
the checkable rule keeps a sub-agent's pay from depending on a planner still learning.

Refiner, in 'policy' mode only (each judgement its own group, RAE): the planner's exact match
less `refiner_cost` for each document kept, so keeping what the answer needs and dropping the
rest pays most; a judgement that is neither yes nor no gets `refiner_format_penalty`. The
embedding refiner and 'off' make no calls and train nothing.

Proposer, with questions='proposer' (one call per episode, RAE): the search game's rule
(graphs/search/rewards.py `score_proposal`), the planners' exact match as the solve rate: a
failed filter pays `format_penalty`, an unverified question nothing, a verified one 1 - p by
default. A proposed question has no chain from the fact table, so every sub-agent on it is paid
`agent_share` x the planner's exact match. The RAG verifier is never paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sparring.graphs.game import Payout, Scoring
from sparring.graphs.hiersearch.config import HierSearchConfig
from sparring.graphs.hiersearch.hierarchy import AGENT_ROLES, AgentReport, PlannerAttempt
from sparring.graphs.search.rewards import score_proposal
from sparring.messages import Role, Verdict
from sparring.roles.call import Call
from sparring.tools.answer import exact_match, normalize_answer
from sparring.tools.world import Hop

__all__ = ["checkable_hop", "score"]


def checkable_hop(question: str, chain: Sequence[Hop]) -> Hop | None:
    """The hop whose subject the sub-question names (the longest such name, for a name inside
    another), or None when it names none of them."""
    said = f" {normalize_answer(question)} "
    named = [hop for hop in chain if f" {normalize_answer(hop.title)} " in said]
    return max(named, key=lambda hop: len(hop.title)) if named else None


def score(state: dict[str, Any], calls: Sequence[Call], cfg: HierSearchConfig) -> Scoring:
    """Pay every planner, sub-agent and refiner call of one finished hiersearch episode (and
    the proposer's, with questions='proposer')."""
    hops = int(state["hops"])
    if "proposal" in state:
        verification = state.get("verification")
        played = verification is not None and verification.valid
        planners = _planners(state, cfg) if played else None
        pay, said, proposed = score_proposal(
            state["proposal"],
            verification,
            planners.stats["em"] if planners is not None else None,
            hops,
            cfg.search_config(),
        )
        if planners is None:
            return Scoring(payouts=[pay], verdicts=said, stats=proposed)
        return Scoring(
            payouts=[pay, *planners.payouts],
            verdicts=said + planners.verdicts,
            stats=proposed | planners.stats,
        )
    return _planners(state, cfg)


def _planners(state: dict[str, Any], cfg: HierSearchConfig) -> Scoring:
    """The planners', sub-agents' and refiner's pay for the attempts at one question."""
    hops = int(state["hops"])
    chain = [Hop.model_validate(h) for h in state.get("chain", [])]
    attempts: list[PlannerAttempt] = state.get("attempts", [])
    payouts: list[Payout] = []
    verdicts: list[Verdict] = []
    checked: list[float] = []
    offered = kept = judged = unreadable = errors = delegations = 0
    for attempt in attempts:
        reason = f"answered {attempt.answer!r}: EM {attempt.em:.0f}, F1 {attempt.f1:.2f}"
        payouts.append(Payout(call_id=attempt.call_id, reward=attempt.em, reason=reason,
                              group="planners"))  # fmt: skip
        verdicts.append(
            Verdict(
                role=Role.PLANNER,
                name="answered",
                ok=attempt.em == 1.0,
                reason=reason,
                sample_id=attempt.call_id,
            )
        )
        for report in attempt.reports:
            delegations += 1
            verdicts.append(_delegated(report, attempt.call_id))
            if report.call_id is None:
                errors += 1
                continue
            pay, why, em = _agent_pay(report, chain, attempt.em, cfg)
            if em is not None:
                checked.append(em)
            payouts.append(Payout(call_id=report.call_id, reward=pay, reason=why))
            refinement = report.refinement
            if refinement is None:
                continue
            offered += len(refinement.kept) + len(refinement.dropped)
            kept += len(refinement.kept)
            for judgement in refinement.judgements:
                judged += 1
                if not judgement.readable:
                    unreadable += 1
                    reward, why = cfg.refiner_format_penalty, "neither yes nor no: kept"
                else:
                    reward = attempt.em - (cfg.refiner_cost if judgement.keep else 0.0)
                    verb = "kept" if judgement.keep else "dropped"
                    why = f"{verb} {judgement.document_id}; planner EM {attempt.em:.0f}"
                    if judgement.keep:
                        why += f" - {cfg.refiner_cost:g} for keeping"
                payouts.append(Payout(call_id=judgement.call_id, reward=reward, reason=why))
    n = max(len(attempts), 1)
    rate = sum(a.em for a in attempts) / n
    stats = {
        "hops": float(hops),
        "em": rate,
        f"em/h{hops}": rate,
        "f1": sum(a.f1 for a in attempts) / n,
        "signal": float(0.0 < rate < 1.0),
        "delegations": delegations / n,
        "read_tokens": sum(a.read_tokens for a in attempts) / n,
        "agent_errors": errors / max(delegations, 1),
    }
    if checked:
        stats["agent_em"] = sum(checked) / len(checked)
    if offered:
        stats["kept_share"] = kept / offered
    if judged:
        stats["refiner_unreadable"] = unreadable / judged
    return Scoring(payouts=payouts, verdicts=verdicts, stats=stats)


def _agent_pay(
    report: AgentReport, chain: Sequence[Hop], planner_em: float, cfg: HierSearchConfig
) -> tuple[float, str, float | None]:
    """A sub-agent's reward, why, and its own exact match when checkable."""
    hop = checkable_hop(report.question, chain)
    if hop is not None:
        em = exact_match(report.answer, [hop.value]) if report.answer is not None else 0.0
        return em, f"asked about {hop.title}: answered {report.answer!r}, gold {hop.value!r}", em
    pay = cfg.agent_share * planner_em
    return pay, f"sub-question off the chain: {cfg.agent_share:g} x planner EM", None


def _delegated(report: AgentReport, planner_call: str) -> Verdict:
    """The record of one delegation: who was asked what, what came back, what was kept."""
    if report.error is not None:
        return Verdict(role=AGENT_ROLES[report.half], name="delegated", ok=False,
                       reason=f"asked {report.question!r}: {report.error}",
                       sample_id=planner_call)  # fmt: skip
    kept = report.refinement.kept if report.refinement else report.document_ids
    dropped = report.refinement.dropped if report.refinement else []
    reason = (
        f"asked {report.question!r}; searched {', '.join(map(repr, report.queries)) or 'nothing'}"
        f" -> answered {report.answer!r}; kept {', '.join(kept) or 'none'}"
        f"; dropped {', '.join(dropped) or 'none'}"
    )
    return Verdict(role=AGENT_ROLES[report.half], name="delegated", ok=report.answer is not None,
                   reason=reason, sample_id=report.call_id)  # fmt: skip
