"""The RAG verifier: can the question be answered from what the proposer found? Fails CLOSED.

SSP's check that a proposed question has its ground truth (arXiv 2510.18821, "RAG
verification"): the verifier answers the question from ALL documents the proposer's searches
returned plus `noise_docs` documents from other articles, and nothing else; the question is
valid only if that answer matches the gold answer (SQuAD-normalised exact match).

How it reads them is changed for the tiny model: SSP's verifier gets the documents in its
prompt; ours runs the solver's own tool loop ("question: ...", one `<search>` per hop) over a
`DocumentSearcher` that holds exactly those documents. A model of ~0.65M parameters cannot
chain hops across shuffled articles in one pass, but it learns to search one entity at a time.
Measured after a 500-step warm-up, on 30 training questions per hop count with their chain's
articles and 2 noise documents: given them in the prompt it answered 0 of 90; searching them
it answered .93, .70 and .53 of the 1-, 2- and 3-hop questions (warm-up demonstrations never
show the verifier, either way). What it may read is still exactly SSP's set, so a question
passes only if its answer follows from what the proposer found; its prompt is the solver's, so
it is asked exactly what a solver is asked.

Where this departs from the paper's released code, on purpose: every failure of the check itself
means INVALID. A policy error, a timeout (`verifier_timeout_s`) or an answer that does not parse
(no `<answer>...</answer>`) rejects the question; SSP's code returns valid when its check
throws, which pays a proposer for a question nobody verified. The paper draws the noise from
other rollouts of the batch; an episode here has no batch-mates inside its graph, so noise is
drawn at random from the rest of the corpus (seeded by the episode's task).

The verifier's call is recorded (role "verifier"; the inspector shows its searches and the
documents they returned) and never paid, so never trained: it is a filter, not a player.

    verdict = await verify_question(policy, question, documents, noise, golds, hops, cfg, rng)
    verdict.valid, verdict.reason
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from sparring.graphs.search.config import SearchGameConfig
from sparring.graphs.search.prompts import solver_messages
from sparring.messages import Role
from sparring.policy.base import Policy
from sparring.roles.tool_loop import run_tool_loop
from sparring.tools.answer import exact_match
from sparring.tools.search import DocumentSearcher, Hit, SearchTool

__all__ = ["RagVerdict", "verify_question"]


class RagVerdict(BaseModel):
    """What the RAG check decided, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    valid: bool = Field(description="The verifier answered the gold from the documents.")
    reason: str = Field(description="Why, in words: mismatch, error, timeout, unparsable, ...")
    answer: str | None = Field(default=None, description="The verifier's answer, if it parsed.")
    document_ids: list[str] = Field(default=[], description="Ids shown, in the order shown.")
    noise_ids: list[str] = Field(default=[], description="Which of them were noise.")


async def verify_question(
    policy: Policy,
    question: str,
    documents: Sequence[Hit],
    noise: Sequence[Hit],
    golds: Sequence[str],
    hops: int,
    cfg: SearchGameConfig,
    rng: random.Random,
) -> RagVerdict:
    """Ask `policy` the question, searching only `documents` + `noise` (shuffled by `rng`, so a
    tie in BM25 favours no side), with a solver's turns for `hops` searches."""
    shown = [*documents, *noise]
    rng.shuffle(shown)
    ids, noise_ids = [d.id for d in shown], [d.id for d in noise]
    tool = SearchTool(DocumentSearcher(shown), k=cfg.solver_k, max_chars=cfg.snippet_chars)

    def verdict(valid: bool, reason: str, answer: str | None = None) -> RagVerdict:
        return RagVerdict(
            valid=valid, reason=reason, answer=answer, document_ids=ids, noise_ids=noise_ids
        )

    loop = run_tool_loop(
        policy,
        Role.VERIFIER,
        solver_messages(question),
        {"search": tool},
        cfg.verifier,
        max_turns=cfg.max_turns(hops),
        budget=cfg.budget,
    )
    try:
        result = await asyncio.wait_for(loop, timeout=cfg.verifier_timeout_s)
    except TimeoutError:
        return verdict(False, f"verifier timed out after {cfg.verifier_timeout_s:g} s: invalid")
    except Exception as e:  # fail closed: a check that could not run verified nothing
        return verdict(False, f"verifier failed ({type(e).__name__}: {e}): invalid")
    answer = result.answer
    if answer is None:
        said = result.call.text[-60:]
        return verdict(False, f"verifier gave no answer ({result.outcome}, {said!r}): invalid")
    if exact_match(answer, golds) < 1.0:
        return verdict(False, f"verifier answered {answer!r}, gold {golds[0]!r}: invalid", answer)
    searched = "; ".join(repr(q) for q, _ in tool.calls) or "no search"
    return verdict(
        True,
        f"verifier answered the gold {answer!r} from {len(shown)} documents ({searched})",
        answer,
    )
