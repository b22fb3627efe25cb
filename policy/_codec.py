"""Text and chat to token ids and back, the same way for every backend.

Every backend renders chat with the model's own chat template, encodes tool output without
special tokens and decodes without them, through a transformers tokenizer held on the worker's
side (an engine's own tokenizer may differ in details such as special-token handling, and a
remote server's is not at hand at all), so a prompt means the same ids whichever backend
serves it and multi-turn continuations are never re-tokenised.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sparring.errors import PolicyError
from sparring.messages import ChatMessage
from sparring.policy.base import Prompt, SamplingParams

__all__ = ["Codec", "Tokenized", "eos_ids", "load_tokenizer"]


def load_tokenizer(name_or_path: str | Path) -> Any:
    """A transformers tokenizer (left padding, a pad token) from a folder or hub id."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(name_or_path), padding_side="left")
    except OSError as e:
        raise PolicyError(
            f"could not load a tokenizer from {name_or_path!r}: {e}. Pass a folder written by "
            "`sparring init-model DIR` or save_pretrained, or a hub id with network access"
        ) from e
    if tokenizer.pad_token_id is None:
        # Many released models have no pad token; left-padded batches need one, and the mask
        # hides it from attention, so reusing EOS is safe.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


class Codec:
    """render / encode / decode of the Policy protocol over one tokenizer."""

    def __init__(self, tokenizer: Any, max_positions: int | None) -> None:
        self.tokenizer = tokenizer
        self.max_positions = max_positions

    def render(self, messages: Sequence[ChatMessage]) -> list[int]:
        text = self.tokenizer.apply_chat_template(
            [m.model_dump() for m in messages], tokenize=False, add_generation_prompt=True
        )
        return self.encode(text)

    def encode(self, text: str) -> list[int]:
        ids: list[int] = self.tokenizer.encode(text, add_special_tokens=False)
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        text: str = self.tokenizer.decode(list(ids), skip_special_tokens=True)
        return text

    def prompt_ids(self, prompt: Prompt, params: SamplingParams) -> list[int]:
        """The ids a prompt stands for, checked to leave room for `params.max_new_tokens`."""
        if not prompt:
            raise PolicyError("empty prompt: pass chat messages or at least one token id")
        if isinstance(prompt[0], ChatMessage):
            ids = self.render([m for m in prompt if isinstance(m, ChatMessage)])
        else:
            ids = [int(i) for i in prompt if not isinstance(i, ChatMessage)]
        limit = self.max_positions
        if limit is not None and len(ids) + params.max_new_tokens > limit:
            raise PolicyError(
                f"prompt of {len(ids)} tokens + max_new_tokens {params.max_new_tokens} "
                f"exceeds the model's {limit} positions: shorten the prompt or the budget"
            )
        return ids


def eos_ids(generation_config: Any, tokenizer: Any) -> frozenset[int]:
    """Every token id that ends a completion: the model's generation config's and the
    tokenizer's EOS."""
    eos = getattr(generation_config, "eos_token_id", None)
    found = {eos} if isinstance(eos, int) else set(eos or ())
    if tokenizer.eos_token_id is not None:
        found.add(tokenizer.eos_token_id)
    if not found:
        raise PolicyError("neither the model nor the tokenizer names an EOS token")
    return frozenset(found)


class Tokenized:
    """The Policy protocol's token methods, for a backend that holds a `Codec` as `_codec`."""

    _codec: Codec

    def render(self, messages: Sequence[ChatMessage]) -> list[int]:
        return self._codec.render(messages)

    def encode(self, text: str) -> list[int]:
        return self._codec.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self._codec.decode(ids)
