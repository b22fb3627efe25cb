"""The policy loss: a clipped surrogate on token logprobs against the behaviour policy.

Written for a streaming trainer that takes one optimizer step per batch of samples produced by
workers up to `max_staleness` versions behind. The ratio is r = pi_theta / mu, where mu is the
behaviour logprob the worker recorded for each token (no second "old policy" forward pass: with
one step per batch that pass would equal pi_theta and clip nothing). Per token:

    s = min(r A, clip(r, 1 - clip_low, 1 + clip_high) A)     PPO, asymmetric clip (DAPO)
    s = max(s, C A)   where A < 0                            truncated importance weight
    loss = -s + kl_coef * k3(pi_theta, pi_ref)

so the gradient stops where the policy already moved past the trust region in the advantage's
direction, and a stale token with A < 0 whose probability grew is weighted by min(r, C) with
C = is_truncation (the truncated IS of Espeholt et al. 2018 / Yao et al. 2025, in the one branch
where PPO's min leaves r unbounded; dual-clip PPO, Ye et al. 2020, is the same cap).
k3 is Schulman's unbiased, positive KL estimator exp(d) - d - 1 with d = log pi_ref - log pi.
The loss is a token-level mean over every trained token of the batch (DAPO), so long and short
completions weigh by their tokens, not per sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["LossOutput", "policy_loss"]

_MAX_LOG_RATIO = 20.0  # exp(20) ~ 5e8: keeps a wildly off-policy token finite, then clipped


@dataclass(frozen=True)
class LossOutput:
    """The scalar loss (with grad) and detached diagnostics, each a masked token mean."""

    loss: torch.Tensor
    kl: torch.Tensor
    clip_frac: torch.Tensor
    truncated_frac: torch.Tensor
    ratio: torch.Tensor


def policy_loss(
    logprobs: torch.Tensor,  # (B, T) log pi_theta of the taken tokens, with grad
    behaviour_logprobs: torch.Tensor,  # (B, T) log mu, recorded by the worker
    advantages: torch.Tensor,  # (B, T) or (B,): one advantage per sample, broadcast over T
    mask: torch.Tensor,  # (B, T) 1 where a token is trained
    *,
    clip_low: float,
    clip_high: float,
    is_truncation: float,
    ref_logprobs: torch.Tensor | None = None,  # (B, T) log pi_ref, no grad
    kl_coef: float = 0.0,
) -> LossOutput:
    """Token-mean clipped-surrogate loss; see the module docstring for the formula."""
    adv = advantages if advantages.dim() == 2 else advantages[:, None].expand_as(logprobs)
    mask = mask.to(logprobs.dtype)
    n_tokens = mask.sum().clamp(min=1.0)

    log_ratio = (logprobs - behaviour_logprobs).clamp(-_MAX_LOG_RATIO, _MAX_LOG_RATIO)
    ratio = torch.exp(log_ratio)  # (B, T)
    clipped = torch.clamp(ratio, 1 - clip_low, 1 + clip_high)
    surrogate = torch.minimum(ratio * adv, clipped * adv)  # (B, T)
    surrogate = torch.where(adv < 0, torch.maximum(surrogate, is_truncation * adv), surrogate)
    per_token = -surrogate

    kl = torch.zeros_like(per_token)
    if ref_logprobs is not None:
        d = ref_logprobs - logprobs
        kl = torch.exp(d) - d - 1  # (B, T) k3 estimator
        per_token = per_token + kl_coef * kl
    loss = (per_token * mask).sum() / n_tokens

    with torch.no_grad():
        r = ratio.detach()
        cut = ((adv > 0) & (r > 1 + clip_high)) | ((adv < 0) & (r < 1 - clip_low))
        truncated = (adv < 0) & (r > is_truncation)
        return LossOutput(
            loss=loss,
            kl=(kl.detach() * mask).sum() / n_tokens,
            clip_frac=(cut.to(mask.dtype) * mask).sum() / n_tokens,
            truncated_frac=(truncated.to(mask.dtype) * mask).sum() / n_tokens,
            ratio=(r * mask).sum() / n_tokens,
        )
