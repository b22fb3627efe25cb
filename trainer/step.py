"""One optimizer step, top to bottom: forward, logprobs, loss, backward, clip, update, stats.

`train_step(model, optimizer, batch, config)` is the whole learning rule; the loop around it
(`sparring.trainer.loop`) only consumes, batches, checkpoints and publishes. On CUDA the forward
runs under bf16 autocast over fp32 master weights; on CPU everything is fp32. Logprobs are
always computed in fp32 because they feed importance ratios (STACK.md: ~0.1 error in bf16).

A step whose loss or gradient norm is not finite is not applied: no optimizer step (so neither
the weights nor AdamW's moments change), gradients cleared, `StepStats.applied` False. One such
update made every weight NaN; the caller counts the step and trains nothing from it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from sparring.trainer.batch import Batch
from sparring.trainer.config import TrainerConfig
from sparring.trainer.loss import policy_loss

__all__ = ["StepStats", "token_logprobs", "train_step"]


@dataclass(frozen=True)
class StepStats:
    """What one step measured (floats, already on the host)."""

    loss: float
    kl: float
    entropy: float
    clip_frac: float
    truncated_frac: float
    ratio: float
    grad_norm: float
    samples: int
    tokens: int
    step_time_s: float
    applied: bool = True
    """False when the loss or the gradient norm was not finite and nothing was changed."""


def token_logprobs(model: Any, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """(log pi of each target token (B, T), full log-softmax (B, T, V)), fp32, with grad."""
    logits = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        logits_to_keep=batch.logits_to_keep,
    ).logits[:, :-1]  # (B, T, V)
    logp_all = torch.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    logp = logp_all.gather(-1, batch.targets.unsqueeze(-1)).squeeze(-1)  # (B, T)
    return logp, logp_all


def train_step(
    model: Any,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    config: TrainerConfig,
    ref_model: Any | None = None,
) -> StepStats:
    """Take one optimizer step on `batch`; `ref_model` is needed only when kl_coef > 0."""
    t0 = time.perf_counter()
    device = next(model.parameters()).device
    batch = batch.to(device)
    model.train()

    # 1. forward: log pi_theta of every completion token
    with _autocast(device):
        logp, logp_all = token_logprobs(model, batch)  # (B, T), (B, T, V)

    # 2. reference logprobs for the KL term (frozen initial model, or the base under LoRA)
    ref_logp = None
    if config.kl_coef > 0:
        with torch.no_grad(), _autocast(device), _reference(model, ref_model) as ref:
            ref_logp, _ = token_logprobs(ref, batch)  # (B, T)

    # 3. loss: clipped surrogate vs the behaviour logprobs, truncated IS, token mean
    out = policy_loss(
        logp,
        batch.behaviour_logprobs,
        batch.advantages,
        batch.loss_mask,
        clip_low=config.clip_low,
        clip_high=config.clip_high,
        is_truncation=config.is_truncation,
        ref_logprobs=ref_logp,
        kl_coef=config.kl_coef,
    )

    # 4. backward, global-norm clip, update: only when the loss and the gradient are finite
    optimizer.zero_grad(set_to_none=True)
    grad_norm = torch.tensor(float("nan"))
    applied = bool(torch.isfinite(out.loss))
    if applied:
        out.loss.backward()
        params = [p for p in model.parameters() if p.requires_grad]
        grad_norm = torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        applied = bool(torch.isfinite(grad_norm))
    if applied:
        optimizer.step()
    else:
        optimizer.zero_grad(set_to_none=True)  # drop the NaN gradients, touch nothing else

    # 5. diagnostics: policy entropy over the trained tokens
    with torch.no_grad():
        entropy = -(logp_all.exp() * logp_all).sum(-1)  # (B, T)
        entropy = (entropy * batch.loss_mask).sum() / batch.loss_mask.sum().clamp(min=1)
    return StepStats(
        loss=out.loss.item(),
        kl=out.kl.item(),
        entropy=entropy.item(),
        clip_frac=out.clip_frac.item(),
        truncated_frac=out.truncated_frac.item(),
        ratio=out.ratio.item(),
        grad_norm=float(grad_norm),
        samples=batch.input_ids.shape[0],
        tokens=batch.n_tokens,
        step_time_s=time.perf_counter() - t0,
        applied=applied,
    )


def _autocast(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def _reference(model: Any, ref_model: Any | None) -> Iterator[Any]:
    if ref_model is not None:
        yield ref_model
    elif hasattr(model, "disable_adapter"):  # peft: the base model is the reference
        with model.disable_adapter():
            yield model
    else:
        raise ValueError("kl_coef > 0 needs a reference model (or a LoRA model)")
