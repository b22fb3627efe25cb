"""One line's worth of an episode: what the episode list (web) and the tail (terminal) show.

`summarize(episode)` returns a JSON-ready dict; the page renders it as a row and fetches the full
episode only when a person opens it, so a list of thousands of episodes stays light.
"""

from __future__ import annotations

from statistics import fmean
from typing import Any

from pydantic import JsonValue

from sparring.messages import Episode, Role

__all__ = ["headline", "summarize", "verdict_badges"]

_HEADLINE_CHARS = 160


def headline(episode: Episode) -> str:
    """What the episode was about, in one line: the proposer's output, else the task seed."""
    for turn in episode.turns:
        if turn.role != Role.PROPOSER:
            continue
        parsed = _first_text(turn.parsed)
        if parsed or turn.completion.strip():
            return _one_line(parsed or turn.completion)
    params = ", ".join(f"{k}={v}" for k, v in episode.task.params.items())
    return _one_line(params) if params else "(empty task)"


def verdict_badges(episode: Episode) -> list[dict[str, Any]]:
    """Checked verdicts folded per name: {name, ok, total}, e.g. solved 3/4."""
    folded: dict[str, dict[str, Any]] = {}
    for v in episode.verdicts:
        badge = folded.setdefault(v.name, {"name": v.name, "ok": 0, "total": 0})
        badge["ok"] += int(v.ok)
        badge["total"] += 1
    return list(folded.values())


def summarize(episode: Episode, seq: int = 0) -> dict[str, Any]:
    """The episode's list row: ids, game, roles, rewards per role, verdicts, tokens, time."""
    rewards: dict[str, list[float]] = {}
    for r in episode.rewards:
        rewards.setdefault(r.role, []).append(r.reward)
    return {
        "seq": seq,
        "id": episode.id,
        "game": episode.game,
        "worker": episode.worker,
        "policy_version": episode.policy_version,
        "started_at": episode.started_at,
        "duration_s": episode.duration_s,
        "headline": headline(episode),
        "roles": sorted({t.role for t in episode.turns}),
        "turns": len(episode.turns),
        "rewards": {role: round(fmean(values), 4) for role, values in sorted(rewards.items())},
        "verdicts": verdict_badges(episode),
        "tokens": sum(t.prompt_tokens + t.completion_tokens for t in episode.turns),
        "errors": len(episode.errors),
        "split": episode.task.split,
    }


def _first_text(parsed: JsonValue) -> str:
    """The parser's reading of a proposal, when it is text (or a dict holding text)."""
    if isinstance(parsed, str):
        return parsed.strip()
    if isinstance(parsed, dict):
        for value in parsed.values():
            if isinstance(value, str) and value.strip():
                return value.strip()
    return ""


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _HEADLINE_CHARS else flat[: _HEADLINE_CHARS - 1] + "…"
