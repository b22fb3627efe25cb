"""`play_episode`: run one task through a compiled game graph and account for everything.

    outcome = await play_episode(game, graph, task, cfg, worker="w0")
    outcome.samples   # one Sample per paid, trainable call: rewards and groups filled
    outcome.episode   # the Episode record: turns, node path and timings, verdicts, rewards

Many episodes run concurrently on one graph (each in its own asyncio task, each with its own
recorder). An exception anywhere in the episode (a node, the start state, the reward rules) never
escapes: the episode ends with the error recorded and no samples, because a half-played episode
has no reward anyone should train on.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sparring.errors import GameError
from sparring.graphs.game import Game, Payout, Scoring
from sparring.graphs.recording import recording
from sparring.messages import (
    Episode,
    NodeTiming,
    Sample,
    SampleReward,
    Task,
    Turn,
    Verdict,
    new_id,
)
from sparring.roles.call import Call

__all__ = ["EpisodeOutcome", "play_episode"]


class EpisodeOutcome(BaseModel):
    """What one episode produced: the samples to train and the record to keep."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    samples: list[Sample] = Field(description="Trainable samples (empty if the episode failed).")
    episode: Episode = Field(description="The whole episode, for the inspector and debugging.")

    @property
    def ok(self) -> bool:
        """The episode ran to the end without an error."""
        return not self.episode.errors


async def play_episode(
    game: Game, graph: Any, task: Task, cfg: Any, worker: str = ""
) -> EpisodeOutcome:
    """Play `task` on `graph` (built by `game.build`) and score it; never raises on game errors."""
    episode_id, started, t0 = new_id(), time.time(), time.perf_counter()
    path: list[NodeTiming] = []
    errors: list[str] = []
    scoring = Scoring()
    with recording() as recorder:
        try:
            state = await _run(graph, game.start(task, cfg), path)
            scoring = game.score(state, recorder.calls, cfg)
        except Exception as e:  # a game's bug must end this episode, not the worker
            errors.append(f"{type(e).__name__}: {e}")
        calls = recorder.calls
    samples: list[Sample] = []
    reasons = {p.call_id: p.reason for p in scoring.payouts}
    if not errors:
        try:
            samples = _samples(game, task.run, episode_id, scoring, calls)
        except GameError as e:
            errors.append(f"GameError: {e}")
    episode = Episode(
        id=episode_id,
        run=task.run,
        game=game.name,
        task=task,
        worker=worker,
        policy_version=min((c.generation.policy_version for c in calls), default=0),
        turns=_turns(calls, {s.id for s in samples}),
        path=path,
        verdicts=[] if errors else _verdicts(scoring, {s.id for s in samples}),
        rewards=[
            SampleReward(
                sample_id=s.id,
                role=s.role,
                group_id=s.group_id,
                reward=s.reward or 0.0,
                reason=reasons[s.id],
            )
            for s in samples
        ],
        stats={} if errors else scoring.stats,
        errors=errors,
        started_at=started,
        duration_s=time.perf_counter() - t0,
    )
    return EpisodeOutcome(samples=samples, episode=episode)


async def _run(graph: Any, state: dict[str, Any], path: list[NodeTiming]) -> dict[str, Any]:
    """Stream the graph to the end, timing every node visit; returns the final state."""
    final: dict[str, Any] = state
    starts: dict[str, tuple[str, float, float]] = {}
    async for mode, event in graph.astream(state, stream_mode=["tasks", "values"]):
        if mode == "values":
            final = event
        elif "input" in event:  # a task started
            starts[event["id"]] = (event["name"], time.time(), time.perf_counter())
        elif event["id"] in starts:  # a task finished (or failed)
            name, wall, t0 = starts.pop(event["id"])
            path.append(NodeTiming(node=name, started_at=wall, duration_s=time.perf_counter() - t0))
    return dict(final)


def _group(payout: Payout, call: Call, game: Game) -> str:
    """The payout's group key; unnamed, the role's declared grouping decides."""
    if payout.group is not None:
        return payout.group
    spec = game.roles.get(call.role)
    return call.id if spec is not None and spec.grouping == "call" else call.role


def _samples(
    game: Game, run: str, episode_id: str, scoring: Scoring, calls: Sequence[Call]
) -> list[Sample]:
    by_id = {c.id: c for c in calls}
    paid = Counter(p.call_id for p in scoring.payouts)
    if twice := [i for i, n in paid.items() if n > 1]:
        raise GameError(f"the reward rules paid call(s) {twice} more than once; pay each once")
    if unknown := [i for i in paid if i not in by_id]:
        raise GameError(f"the reward rules paid unknown call id(s) {unknown}; pay recorded calls")
    trained = [p for p in scoring.payouts if by_id[p.call_id].trainable]
    groups = {p.call_id: _group(p, by_id[p.call_id], game) for p in trained}
    # Group sizes are counted, never declared: the trainer waits for exactly this many.
    sizes = Counter(groups.values())
    out = []
    for p in trained:
        gen = by_id[p.call_id].generation
        out.append(
            Sample(
                id=p.call_id,
                run=run,
                game=game.name,
                role=by_id[p.call_id].role,
                episode_id=episode_id,
                group_id=f"{episode_id}/{groups[p.call_id]}",
                group_size=sizes[groups[p.call_id]],
                prompt_ids=gen.prompt_ids,
                completion_ids=gen.completion_ids,
                logprobs=gen.logprobs,
                loss_mask=by_id[p.call_id].mask(),
                policy_version=gen.policy_version,
                reward=p.reward,
                finish_reason=gen.finish_reason,
            )
        )
    return out


def _verdicts(scoring: Scoring, trained: set[str]) -> list[Verdict]:
    """The rules' verdicts, pointing only at samples that exist."""
    return [
        v
        if v.sample_id is None or v.sample_id in trained
        else v.model_copy(update={"sample_id": None})
        for v in scoring.verdicts
    ]


def _turns(calls: Sequence[Call], trained: set[str]) -> list[Turn]:
    return [
        Turn(
            role=c.role,
            node=c.node,
            messages=c.messages,
            completion=c.generation.text,
            parsed=c.parsed,
            tool_calls=c.tool_calls,
            sample_id=c.id if c.id in trained else None,
            call_id=c.id,
            prompt_tokens=len(c.generation.prompt_ids),
            completion_tokens=len(c.generation.completion_ids),
            policy_version=c.generation.policy_version,
            started_at=c.started_at,
            duration_s=c.duration_s,
            finish_reason=c.generation.finish_reason,
        )
        for c in calls
    ]
