"""The RAG verifier: can the question be answered from what the proposer found? Fails CLOSED.

SSP's check that a proposed question has its ground truth (arXiv 2510.18821, "RAG
verification"): the verifier answers the question with no tools, given ALL documents the
proposer's searches returned plus `noise_docs` documents from other articles; the question is
valid only if that answer matches the gold answer (SQuAD-normalised exact match). The documents
are shuffled together, so the proposer's come in no telling position.

Where this departs from the paper's released code, on purpose: every failure of the check itself
means INVALID. A policy error, a timeout (`verifier_timeout_s`) or an answer that does not parse
(no `<answer>...</answer>`) rejects the question; SSP's code returns valid when its check
throws, which pays a proposer for a question nobody verified. The paper draws the noise from
other rollouts of the batch; an episode here has no batch-mates inside its graph, so noise is
drawn at random from the rest of the corpus (seeded by the episode's task).

The verifier's call is recorded (role "verifier", the inspector shows the documents it read in
its prompt) and never paid, so never trained: it is a filter, not a player.

    verdict = await verify_question(policy, question, documents, golds, cfg)
    verdict.valid, verdict.reason
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from sparring.graphs.search.config import SearchGameConfig
from sparring.messages import ChatMessage
from sparring.policy.base import Policy
from sparring.tools.answer import exact_match
from sparring.tools.search import Hit, format_hits

__all__ = ["RagVerdict", "parse_answer", "verifier_messages", "verify_question"]

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


class RagVerdict(BaseModel):
    """What the RAG check decided, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    valid: bool = Field(description="The verifier answered the gold from the documents.")
    reason: str = Field(description="Why, in words: mismatch, error, timeout, unparsable, ...")
    answer: str | None = Field(default=None, description="The verifier's answer, if it parsed.")
    document_ids: list[str] = Field(default=[], description="Ids shown, in the order shown.")
    noise_ids: list[str] = Field(default=[], description="Which of them were noise.")


def verifier_messages(
    question: str, documents: Sequence[Hit], snippet_chars: int
) -> list[ChatMessage]:
    """The verifier's prompt: the documents, one `[title] text` line each, then the question."""
    docs = format_hits(documents, snippet_chars)
    return [ChatMessage(role="user", content=f"documents:\n{docs}\nquestion: {question}")]


def parse_answer(text: str) -> str | None:
    """The stripped text of the first `<answer>...</answer>`, or None when there is none."""
    found = _ANSWER.search(text)
    return found.group(1).strip() if found else None


async def verify_question(
    policy: Policy,
    question: str,
    documents: Sequence[Hit],
    noise: Sequence[Hit],
    golds: Sequence[str],
    cfg: SearchGameConfig,
    rng: random.Random,
) -> RagVerdict:
    """Ask `policy` the question over `documents` + `noise`, shuffled together by `rng`."""
    shown = [*documents, *noise]
    rng.shuffle(shown)
    ids, noise_ids = [d.id for d in shown], [d.id for d in noise]
    messages = verifier_messages(question, shown, cfg.snippet_chars)
    params = cfg.verifier.model_copy(update={"stop": ("</answer>",)})

    def verdict(valid: bool, reason: str, answer: str | None = None) -> RagVerdict:
        return RagVerdict(
            valid=valid, reason=reason, answer=answer, document_ids=ids, noise_ids=noise_ids
        )

    try:
        generation = await asyncio.wait_for(
            policy.generate(messages, params), timeout=cfg.verifier_timeout_s
        )
    except TimeoutError:
        return verdict(False, f"verifier timed out after {cfg.verifier_timeout_s:g} s: invalid")
    except Exception as e:  # fail closed: a check that could not run verified nothing
        return verdict(False, f"verifier failed ({type(e).__name__}: {e}): invalid")
    answer = parse_answer(generation.text)
    if answer is None:
        return verdict(False, f"verifier answer unparsable ({generation.text[:60]!r}): invalid")
    if exact_match(answer, golds) < 1.0:
        return verdict(False, f"verifier answered {answer!r}, gold {golds[0]!r}: invalid", answer)
    return verdict(
        True, f"verifier answered the gold {answer!r} from {len(shown)} documents", answer
    )
