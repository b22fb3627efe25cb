"""Collation: rewarded samples plus their advantages become padded tensors for one step.

Each row is prompt + completion, right-padded. The loss looks only at the completion: position t
of the (B, T) tensors is completion-region token t' of the shifted sequence, where the window
starts at the shortest prompt of the batch, so the model's `logits_to_keep` skips computing
logits over prompt positions no row trains. Token ids come straight from the packed arrays; no
text is ever re-tokenised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sparring._packed import PackedArray
from sparring.messages import Sample

__all__ = ["Batch", "collate"]


@dataclass(frozen=True)
class Batch:
    """One step's tensors; T is the completion window, L the full padded length."""

    input_ids: torch.Tensor  # (B, L) int64, right-padded with pad_id
    attention_mask: torch.Tensor  # (B, L) int64
    targets: torch.Tensor  # (B, T) int64: the token each window position predicts
    behaviour_logprobs: torch.Tensor  # (B, T) float32: log mu of each target, 0 off-mask
    loss_mask: torch.Tensor  # (B, T) float32: 1 where a completion token is trained
    advantages: torch.Tensor  # (B,) float32
    logits_to_keep: int  # T + 1: the model's logits for the last T + 1 positions

    @property
    def n_tokens(self) -> int:
        """Trained tokens in the batch."""
        return int(self.loss_mask.sum().item())

    def to(self, device: torch.device) -> Batch:
        """The same batch on `device`."""
        return Batch(
            input_ids=self.input_ids.to(device),
            attention_mask=self.attention_mask.to(device),
            targets=self.targets.to(device),
            behaviour_logprobs=self.behaviour_logprobs.to(device),
            loss_mask=self.loss_mask.to(device),
            advantages=self.advantages.to(device),
            logits_to_keep=self.logits_to_keep,
        )


def collate(samples: Sequence[Sample], advantages: Sequence[float], pad_id: int = 0) -> Batch:
    """Pad `samples` into a Batch; advantages[i] belongs to samples[i]."""
    if not samples or len(samples) != len(advantages):
        raise ValueError(f"{len(samples)} samples for {len(advantages)} advantages")
    if any(len(s.prompt_ids) == 0 for s in samples):
        raise ValueError("a sample has an empty prompt: there is no position to predict from")
    lengths = [len(s.prompt_ids) + len(s.completion_ids) for s in samples]
    longest = max(lengths)
    # Logits at position p predict token p + 1, so the window opens one before the first
    # completion token of the row with the shortest prompt.
    start = min(len(s.prompt_ids) for s in samples) - 1
    window = longest - 1 - start
    # Built in numpy and handed to torch without a copy: each packed array's wire bytes are
    # viewed in place (`frombuffer`, read-only, little-endian whatever the host) and cast once,
    # straight into their row. torch.frombuffer would warn on read-only bytes.
    input_ids: np.ndarray = np.full((len(samples), longest), pad_id, dtype=np.int64)
    attention: np.ndarray = np.zeros((len(samples), longest), dtype=np.int64)
    behaviour: np.ndarray = np.zeros((len(samples), window), dtype=np.float32)
    mask: np.ndarray = np.zeros((len(samples), window), dtype=np.float32)
    for i, s in enumerate(samples):
        p, c = len(s.prompt_ids), len(s.completion_ids)
        input_ids[i, :p] = _view(s.prompt_ids)
        input_ids[i, p : p + c] = _view(s.completion_ids)
        attention[i, : p + c] = 1
        first = p - 1 - start  # window index predicting the first completion token
        behaviour[i, first : first + c] = _view(s.logprobs)
        mask[i, first : first + c] = _view(s.loss_mask)
    ids = torch.from_numpy(input_ids)  # (B, L)
    return Batch(
        input_ids=ids,
        attention_mask=torch.from_numpy(attention),
        targets=ids[:, start + 1 :].contiguous(),  # (B, T)
        behaviour_logprobs=torch.from_numpy(behaviour),
        loss_mask=torch.from_numpy(mask),
        advantages=torch.tensor(list(advantages), dtype=torch.float32),
        logits_to_keep=window + 1,
    )


def _view(packed: PackedArray) -> np.ndarray:
    """The items of a packed array as a read-only numpy view of its wire bytes (no copy)."""
    return np.frombuffer(packed.tobytes(), dtype=packed.dtype)
