"""What the vLLM tests compare against: the same weights under transformers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from sparring.policy.base import Generation

__all__ = ["forward_logprobs", "gap", "greedy_ids", "hf_model"]


def hf_model(model_dir: Path, state: dict[str, torch.Tensor] | None = None) -> Any:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    if state is not None:
        model.load_state_dict(state, strict=False)
    return model


def forward_logprobs(model: Any, gen: Generation) -> list[float]:
    """Teacher-forced logprob of each completion token under `model` (temperature 1)."""
    ids = torch.tensor([gen.prompt_ids + gen.completion_ids])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
    n = len(gen.prompt_ids)
    return [logprobs[n - 1 + i, t].item() for i, t in enumerate(gen.completion_ids)]


def gap(model: Any, gen: Generation) -> float:
    """Largest difference between the recorded logprobs and a forward pass of `model`."""
    reference = forward_logprobs(model, gen)
    return max(abs(a - b) for a, b in zip(reference, gen.logprobs, strict=True))


def greedy_ids(model: Any, prompt_ids: Sequence[int], n: int) -> list[int]:
    with torch.no_grad():
        out = model.generate(
            torch.tensor([list(prompt_ids)]), max_new_tokens=n, do_sample=False, eos_token_id=None
        )
    return list(out[0, len(prompt_ids) :].tolist())
