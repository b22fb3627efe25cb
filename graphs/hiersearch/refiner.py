"""The knowledge refiner: which of the documents a sub-agent found the planner gets to read.

HierSearch (arXiv 2508.08088) puts a refiner between its search agents and the planner, so the
planner reads less and is misled less. Three modes (`refiner` in the config):

- off: every document is kept.
- embedding: MiniLM relevance of each document to the sub-question; the top `refiner_keep`
  share is kept (at least one). No training, what HierSearch ships.
- policy: the shared policy reads the sub-question and one document and says "yes" (keep) or
  "no"; each judgement is its own trained call (rewards.py pays it by whether the planner then
  answered right, less `refiner_cost` for each document kept). A judgement that is neither word
  keeps the document: an unreadable word never deletes evidence.

The embedding refiner runs in a thread (one MiniLM call for the sub-question and its documents),
so the worker's event loop goes on while it encodes.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sparring.graphs.hiersearch.config import HierSearchConfig, RefinerMode
from sparring.graphs.hiersearch.prompts import refiner_messages
from sparring.messages import Role
from sparring.policy.base import Policy
from sparring.roles.call import ask
from sparring.tools.search import Embedder, Hit, format_hits

__all__ = ["Judgement", "Refinement", "Word", "embedding_keep", "parse_keep", "refine"]


class Judgement(BaseModel):
    """The policy refiner's word on one document."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call_id: str = Field(description="The refiner's recorded call.")
    document_id: str = Field(description="The document judged.")
    keep: bool = Field(description="Whether it was kept.")
    readable: bool = Field(description="Whether the word was yes or no.")


class Refinement(BaseModel):
    """What the refiner kept and dropped of one sub-agent's documents."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: RefinerMode = Field(description="The refiner that ran.")
    kept: list[str] = Field(description="Ids of the documents kept, in their order.")
    dropped: list[str] = Field(description="Ids of the documents dropped.")
    judgements: list[Judgement] = Field(default=[], description="The policy refiner's calls.")


class Word(BaseModel):
    """What the policy refiner's completion said: keep, drop, or neither (None)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keep: bool | None = Field(description="True for yes, False for no, None for anything else.")


def parse_keep(text: str) -> Word:
    """Read the policy refiner's word (any case, an optional full stop); total."""
    word = text.strip().rstrip(".").lower()
    return Word(keep={"yes": True, "no": False}.get(word))


def embedding_keep(
    embedder: Embedder, question: str, documents: Sequence[Hit], share: float
) -> list[bool]:
    """Per document, whether it is among the `share` most similar to `question` (at least one)."""
    if not documents:
        return []
    texts = [question, *(f"{d.title}. {d.text}" for d in documents)]
    vectors = embedder.encode(texts)
    scores = vectors[1:] @ vectors[0]
    keep = max(1, math.ceil(share * len(documents)))
    best = set(np.argsort(-scores, kind="stable")[:keep].tolist())
    return [i in best for i in range(len(documents))]


async def refine(
    mode: RefinerMode,
    question: str,
    documents: Sequence[Hit],
    cfg: HierSearchConfig,
    *,
    embedder: Embedder,
    policy: Policy,
) -> tuple[list[Hit], Refinement]:
    """The documents the planner reads, and the record of what was kept and why."""
    judgements: list[Judgement] = []
    if mode == "off" or not documents:
        keep = [True] * len(documents)
    elif mode == "embedding":
        keep = await asyncio.to_thread(
            embedding_keep, embedder, question, documents, cfg.refiner_keep
        )
    else:
        asked = await asyncio.gather(
            *(
                ask(
                    policy,
                    Role.REFINER,
                    refiner_messages(question, format_hits([d], cfg.snippet_chars)),
                    cfg.refiner_params,
                    parse_keep,
                )
                for d in documents
            )
        )
        keep = [word.keep is not False for word, _ in asked]
        judgements = [
            Judgement(call_id=call.id, document_id=d.id, keep=k, readable=word.keep is not None)
            for d, (word, call), k in zip(documents, asked, keep, strict=True)
        ]
    kept = [d for d, k in zip(documents, keep, strict=True) if k]
    refinement = Refinement(
        mode=mode,
        kept=[d.id for d in kept],
        dropped=[d.id for d, k in zip(documents, keep, strict=True) if not k],
        judgements=judgements,
    )
    return kept, refinement
