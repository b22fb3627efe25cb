"""ToolOutput: what a tool returns when it has more to record than the text the model reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import JsonValue

__all__ = ["ToolOutput"]


@dataclass(frozen=True)
class ToolOutput:
    """A tool's answer: the text the model reads, and data for the episode record only
    (`ToolCall.data`: a search's hit ids, titles and scores, say). A tool may also return a
    plain str, which is the text with no data."""

    text: str
    data: dict[str, JsonValue] = field(default_factory=dict)
