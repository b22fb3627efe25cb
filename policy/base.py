"""The Policy protocol: what roles call, and what every inference backend implements.

Token in, token out. `generate` takes either chat messages (rendered once with the model's chat
template) or token ids (a multi-turn call passes the previous prompt + completion ids + the
encoded tool output, so nothing is re-tokenised and the recorded logprobs stay exact). It returns
the completion ids, the behaviour logprob of each, and the weights version that produced them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from sparring.messages import ChatMessage

__all__ = [
    "AdapterShape",
    "Example",
    "Generation",
    "Policy",
    "Prompt",
    "SamplingParams",
    "Segment",
    "WeightsFormat",
]

WeightsFormat = Literal["full", "lora"]
"""What a published version holds: a full state dict, or a LoRA adapter (`PolicyVersion.format`)."""


@dataclass(frozen=True)
class AdapterShape:
    """The LoRA adapters a backend will be sent (the trainer's `lora` settings): vLLM sizes
    its adapter slots at start, and an adapter folder needs its peft config beside the
    tensors."""

    rank: int
    alpha: float
    targets: tuple[str, ...]


Prompt = Sequence[ChatMessage] | Sequence[int]
"""Chat messages (rendered with the chat template) or exact token ids."""

Segment = tuple[str, bool]
"""A piece of a completion and whether it is learned (False: tool output the model is given)."""

Example = tuple[list[ChatMessage], str | Sequence[Segment]]
"""A supervised example (`policy.warmup`): a prompt as chat messages and the assistant
completion to learn for it: one text, or segments, for a tool-using role whose completion holds
tool output it must not learn to write (the warm-up's counterpart of the tool loop's loss
mask)."""


class SamplingParams(BaseModel):
    """How to sample one completion."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_new_tokens: int = Field(64, ge=1, description="Upper bound on generated tokens.")
    temperature: float = Field(1.0, ge=0, description="0 means greedy.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass.")
    stop: tuple[str, ...] = Field((), description="Stop strings (kept in the completion).")


class Generation(BaseModel):
    """One completion, exactly as the policy produced it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt_ids: list[int] = Field(description="Token ids the policy was fed.")
    completion_ids: list[int] = Field(description="Token ids it generated.")
    logprobs: list[float] = Field(
        description="Logprob of each generated token under the raw model distribution "
        "(log_softmax of the logits at temperature 1, before top-p), as vLLM reports it."
    )
    text: str = Field(description="The completion decoded.")
    finish_reason: Literal["stop", "length"] = Field(description="Why generation ended.")
    policy_version: int = Field(ge=0, description="Weights version that generated it.")


@runtime_checkable
class Policy(Protocol):
    """A language model roles can ask. Implementations: TransformersPolicy, ScriptedPolicy, ..."""

    @property
    def version(self) -> int:
        """Version of the weights currently served."""
        ...

    def render(self, messages: Sequence[ChatMessage]) -> list[int]:
        """Token ids of a conversation with the generation prompt appended."""
        ...

    def encode(self, text: str) -> list[int]:
        """Token ids of raw text (no special tokens), e.g. a tool result spliced into a turn."""
        ...

    def decode(self, ids: Sequence[int]) -> str:
        """Text of token ids."""
        ...

    async def generate(self, prompt: Prompt, params: SamplingParams) -> Generation:
        """Sample one completion for `prompt`."""
        ...

    async def load_weights(self, data: bytes, version: int, format: WeightsFormat = "full") -> None:
        """Serve the weights in `data` (safetensors) as `version` from the next call on.

        A backend that cannot serve `format` raises PolicyError saying what it serves instead;
        it never loads the wrong kind of weights quietly.
        """
        ...
