"""Realistic example episodes, built from the message models alone (no model, no graph, no bus).

Used by the inspector's tests and for trying the page: `example_episode(run)` is one Search
Self-Play episode (a proposer who searches and writes a question, a verifier, n solvers, a judge)
with tool calls, documents, verdicts, rewards and node timings; `answer` puts any text into the
first solver's answer (e.g. HTML, to check it is shown as text).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from sparring.messages import (
    SCHEMA_VERSION,
    ChatMessage,
    Episode,
    NodeTiming,
    Role,
    SampleReward,
    Task,
    ToolCall,
    Turn,
    Verdict,
    new_id,
)

__all__ = ["example_episode"]

_SYSTEM = "You are a careful research assistant. Think, search when needed, answer briefly."
_DOCS = [
    {
        "title": "Ada Lovelace",
        "text": "Ada Lovelace wrote the first published algorithm for "
        "Charles Babbage's Analytical Engine in 1843.",
        "score": 0.82,
    },
    {
        "title": "Analytical Engine",
        "text": "The Analytical Engine was a proposed mechanical "
        "general-purpose computer designed by Charles Babbage.",
        "score": 0.74,
    },
]


def example_episode(
    run: str = "demo",
    game: str = "search",
    *,
    solved: Sequence[bool] = (True, False, True, False),
    valid: bool = True,
    version: int = 0,
    answer: str | None = None,
    seed: str = "1843",
    started_at: float | None = None,
) -> Episode:
    """One complete episode; `solved` sets how many solvers there are and which succeed."""
    t0 = time.time() if started_at is None else started_at
    group = new_id()
    proposer_id = new_id()
    question = f"In which year did Ada Lovelace publish the first algorithm? (seed {seed})"
    turns = [
        Turn(
            role=Role.PROPOSER,
            node="propose",
            messages=[
                ChatMessage(role="system", content=_SYSTEM),
                ChatMessage(role="user", content=f"Write a question whose answer is {seed}."),
            ],
            completion=f"<search>Ada Lovelace algorithm</search>\n<question>{question}</question>",
            parsed={"question": question},
            tool_calls=[
                ToolCall(
                    name="search",
                    arguments={"query": "Ada Lovelace algorithm", "k": 2},
                    result=json.dumps(_DOCS),
                    data={
                        "hits": [
                            {"id": f"doc-{i}", "title": d["title"]} for i, d in enumerate(_DOCS)
                        ]
                    },
                    duration_s=0.012,
                    error=None,
                )
            ],
            sample_id=proposer_id,
            prompt_tokens=58,
            completion_tokens=31,
            policy_version=version,
            started_at=t0,
            duration_s=0.21,
        ),
        Turn(
            role=Role.VERIFIER,
            node="verify",
            messages=[ChatMessage(role="user", content=f"Answer from the documents: {question}")],
            completion=seed if valid else "I cannot tell from these documents.",
            parsed=seed if valid else None,
            sample_id=None,  # the verifier's call is not trained in this game
            policy_version=version,
            prompt_tokens=120,
            completion_tokens=3,
            started_at=t0 + 0.25,
            duration_s=0.05,
        ),
    ]
    verdicts = [
        Verdict(
            role=Role.PROPOSER,
            name="valid_proposal",
            ok=valid,
            reason="the verifier recovered the seed from the proposer's documents"
            if valid
            else "the verifier could not answer from the retrieved documents",
            sample_id=proposer_id,
        )
    ]
    rewards: list[SampleReward] = []
    path = [
        NodeTiming(node="propose", started_at=t0, duration_s=0.22),
        NodeTiming(node="verify", started_at=t0 + 0.25, duration_s=0.06),
    ]
    if valid:
        for i, ok in enumerate(solved):
            sample_id = new_id()
            text = answer if (answer is not None and i == 0) else (seed if ok else "1842")
            turns.append(_solver_turn(question, text, sample_id, version, t0 + 0.35))
            verdicts.append(
                Verdict(
                    role=Role.SOLVER,
                    name="solved",
                    ok=ok,
                    reason=f"exact match with {seed!r}" if ok else f"{text[:40]!r} != {seed!r}",
                    sample_id=sample_id,
                )
            )
            rewards.append(
                SampleReward(
                    sample_id=sample_id,
                    role=Role.SOLVER,
                    group_id=group,
                    reward=1.0 if ok else 0.0,
                    reason="exact match",
                )
            )
            path.append(NodeTiming(node="solve", started_at=t0 + 0.35 + 0.01 * i, duration_s=0.3))
        path.append(NodeTiming(node="judge", started_at=t0 + 0.7, duration_s=0.004))
    rate = sum(solved) / len(solved) if valid and solved else 0.0
    rewards.insert(0, SampleReward(
        sample_id=proposer_id, role=Role.PROPOSER, group_id=new_id(),
        reward=round(1.0 - rate, 4) if valid else -1.0,
        reason=f"1 - solve rate {rate:.2f}" if valid else "invalid proposal penalty",
    ))  # fmt: skip
    return Episode(
        schema_version=SCHEMA_VERSION,
        run=run,
        game=game,
        task=Task(
            run=run, game=game, params={"seed": seed}, split="train", schema_version=SCHEMA_VERSION
        ),
        worker="worker-0",
        policy_version=version,
        turns=turns,
        path=path,
        verdicts=verdicts,
        rewards=rewards,
        stats={"solve_rate": rate},
        started_at=t0,
        duration_s=0.72,
    )


def _solver_turn(question: str, answer: str, sample_id: str, version: int, at: float) -> Turn:
    return Turn(
        role=Role.SOLVER,
        node="solve",
        messages=[
            ChatMessage(role="system", content=_SYSTEM),
            ChatMessage(role="user", content=question),
        ],
        completion=f"<answer>{answer}</answer>",
        parsed=answer,
        sample_id=sample_id,
        prompt_tokens=44,
        completion_tokens=9,
        policy_version=version,
        started_at=at,
        duration_s=0.3,
    )
