"""Which episodes a person wants to see: the filters shared by the web page and `sparring tail`.

An `EpisodeFilter` is built from the command line (`from_args`) or from the page's query string
(`from_query`) and answers `matches(episode)`. Both front ends filter on the server side with this
one function, so the page and the terminal never disagree about what "solved" means.

Verdict values, read from the episode's checked verdicts (never from the model's own claims):
    valid     a verdict whose name starts with "valid" (e.g. valid_proposal) is ok
    invalid   such a verdict is not ok
    solved    at least one "solved" verdict is ok
    unsolved  the episode has "solved" verdicts and none of them is ok
    NAME      any verdict name a game emits (found, won, ...): some verdict NAME is ok
    !NAME     also NAME=false: the episode has verdicts NAME and none is ok (NAME=true = NAME)
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from sparring.errors import ConfigError
from sparring.messages import Episode, RoleName

__all__ = ["EpisodeFilter", "VerdictFilter", "search_text"]

VerdictFilter = Annotated[
    str, StringConstraints(pattern=r"^!?[a-z][a-z0-9_]{0,63}(=(true|false))?$")
]


class EpisodeFilter(BaseModel):
    """What to show; every field left at None lets every episode through."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    game: str | None = Field(None, description="Only episodes of this game.")
    role: RoleName | None = Field(
        None, description="Only episodes where this role spoke; narrows the reward range to it."
    )
    min_reward: float | None = Field(None, description="Some (role's) reward is >= this.")
    max_reward: float | None = Field(None, description="Some (role's) reward is <= this.")
    version: int | None = Field(None, ge=0, description="Episode or one of its turns used it.")
    verdict: VerdictFilter | None = Field(
        None, description="A verdict name (ok), !name or name=false (not ok); also unsolved."
    )
    search: str | None = Field(None, description="Case-insensitive text anywhere in the episode.")

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> EpisodeFilter:
        """Build from a URL query (empty values mean "no filter"); raises ConfigError if bad."""
        known = {k: v.strip() for k, v in query.items() if k in cls.model_fields and v.strip()}
        try:
            return cls.model_validate(known)
        except ValidationError as e:
            first = e.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "filter"
            raise ConfigError(field, f"{first['msg']} (check the filter value)", "query") from e

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> EpisodeFilter:
        """Build from the filter flags `sparring inspect` and `sparring tail` share."""
        values = {f: getattr(args, f, None) for f in cls.model_fields}
        try:
            return cls.model_validate({k: v for k, v in values.items() if v not in (None, "")})
        except ValidationError as e:
            first = e.errors()[0]
            field = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "filter"
            raise ConfigError(field, str(first["msg"]), "command line") from e

    def query(self) -> dict[str, str]:
        """The non-empty fields as URL query values (what `from_query` reads back)."""
        return {k: str(v) for k, v in self.model_dump(mode="json").items() if v is not None}

    def matches(self, episode: Episode, text: str | None = None) -> bool:
        """True if `episode` passes every filter; `text` is its cached `search_text`, if any."""
        if self.game is not None and episode.game != self.game:
            return False
        if self.role is not None and all(t.role != self.role for t in episode.turns):
            return False
        if not self._reward_in_range(episode):
            return False
        if self.version is not None and not self._used_version(episode):
            return False
        if self.verdict is not None and not _has_verdict(episode, self.verdict):
            return False
        if self.search:
            haystack = text if text is not None else search_text(episode)
            return self.search.lower() in haystack
        return True

    def _reward_in_range(self, episode: Episode) -> bool:
        if self.min_reward is None and self.max_reward is None:
            return True
        lo = float("-inf") if self.min_reward is None else self.min_reward
        hi = float("inf") if self.max_reward is None else self.max_reward
        return any(
            lo <= r.reward <= hi
            for r in episode.rewards
            if self.role is None or r.role == self.role
        )

    def _used_version(self, episode: Episode) -> bool:
        if episode.policy_version == self.version:
            return True
        return any(t.policy_version == self.version for t in episode.turns)


def _has_verdict(episode: Episode, wanted: str) -> bool:
    if wanted == "unsolved":
        wanted = "!solved"
    if wanted in ("valid", "invalid"):
        checks = [v.ok for v in episode.verdicts if v.name.startswith("valid")]
        return any(checks) if wanted == "valid" else any(not ok for ok in checks)
    name, _, value = wanted.removeprefix("!").partition("=")
    want_ok = not wanted.startswith("!") and value != "false"
    checks = [v.ok for v in episode.verdicts if v.name == name]
    return any(checks) if want_ok else bool(checks) and not any(checks)


def search_text(episode: Episode) -> str:
    """Everything a person might search for in an episode, lower-cased, in one string."""
    parts: list[str] = [episode.id, episode.game, episode.worker, str(episode.task.params)]
    for turn in episode.turns:
        parts.append(turn.node)
        parts.extend(m.content for m in turn.messages)
        parts.append(turn.completion)
        for call in turn.tool_calls:
            parts.extend((call.name, str(call.arguments), call.result, call.error or ""))
    parts.extend(v.reason for v in episode.verdicts)
    parts.extend(r.reason for r in episode.rewards)
    parts.extend(episode.errors)
    return "\n".join(parts).lower()
