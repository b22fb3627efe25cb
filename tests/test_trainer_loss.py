"""The clipped-surrogate loss against hand-computed values, both clip sides, truncation and KL."""

from __future__ import annotations

import math

import pytest
import torch

from sparring.trainer.loss import policy_loss

CLIP = {"clip_low": 0.2, "clip_high": 0.3, "is_truncation": 2.0}


def _loss(logp: list[float], mu: list[float], adv: float, mask: list[int] | None = None, **kw):  # type: ignore[no-untyped-def]
    lp = torch.tensor([logp], requires_grad=True)
    out = policy_loss(
        lp,
        torch.tensor([mu]),
        torch.tensor([adv]),
        torch.tensor([mask or [1] * len(logp)]),
        **{**CLIP, **kw},
    )
    out.loss.backward()
    assert lp.grad is not None
    return out, lp.grad[0].tolist()


def test_the_loss_is_the_token_mean_of_the_hand_computed_surrogate() -> None:
    # ratios exp(0.1)=1.105 (inside), exp(-0.1)=0.905 (inside), masked token ignored
    out, grad = _loss([-1.0, -2.0, -0.5], [-1.1, -1.9, -9.0], adv=2.0, mask=[1, 1, 0])
    expected = -(2.0 * math.exp(0.1) + 2.0 * math.exp(-0.1)) / 2
    assert out.loss.item() == pytest.approx(expected, rel=1e-6)
    # d/dlogp of -(r A)/n = -r A / n
    assert grad == pytest.approx([-math.exp(0.1), -math.exp(-0.1), 0.0], rel=1e-6)
    assert out.clip_frac.item() == 0.0


def test_tokens_past_the_high_clip_with_positive_advantage_get_no_gradient() -> None:
    out, grad = _loss([0.0, 0.0], [-0.5, -0.1], adv=1.0)  # ratios 1.65 (> 1.3) and 1.105
    assert grad[0] == 0.0 and grad[1] < 0
    assert out.loss.item() == pytest.approx(-(1.3 + math.exp(0.1)) / 2, rel=1e-6)
    assert out.clip_frac.item() == pytest.approx(0.5)


def test_tokens_below_the_low_clip_with_negative_advantage_get_no_gradient() -> None:
    out, grad = _loss([-1.0, -1.0], [-0.5, -1.0], adv=-1.0)  # ratios 0.61 (< 0.8) and 1
    assert grad[0] == 0.0 and grad[1] > 0
    assert out.loss.item() == pytest.approx((0.8 + 1.0) / 2, rel=1e-6)
    assert out.clip_frac.item() == pytest.approx(0.5)


def test_the_other_side_of_each_clip_keeps_its_gradient() -> None:
    # A > 0 and a shrunken ratio, A < 0 and a grown one: PPO's min keeps r A, unclipped
    _, grad_pos = _loss([-1.0], [-0.5], adv=1.0)  # r = 0.61
    _, grad_neg = _loss([-0.5], [-0.8], adv=-1.0)  # r = 1.35
    assert grad_pos[0] == pytest.approx(-math.exp(-0.5), rel=1e-6)
    assert grad_neg[0] == pytest.approx(math.exp(0.3), rel=1e-6)


def test_a_stale_token_with_negative_advantage_is_weighted_at_most_by_the_truncation() -> None:
    out, grad = _loss([0.0], [-2.0], adv=-1.0)  # r = e^2 = 7.39 > C = 2
    assert out.loss.item() == pytest.approx(2.0)  # -(C * A)
    assert grad == [0.0]
    assert out.truncated_frac.item() == 1.0
    loose, _ = _loss([0.0], [-2.0], adv=-1.0, is_truncation=10.0)
    assert loose.loss.item() == pytest.approx(math.exp(2.0), rel=1e-6)


def test_the_kl_term_is_k3_against_the_reference_times_its_coefficient() -> None:
    lp = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    ref = torch.tensor([[-1.5, -2.0]])
    out = policy_loss(
        lp,
        lp.detach(),
        torch.tensor([0.0]),
        torch.ones(1, 2),
        ref_logprobs=ref,
        kl_coef=0.1,
        **CLIP,
    )
    k3 = math.exp(-0.5) + 0.5 - 1  # d = ref - logp = -0.5 ; second token d = 0
    assert out.kl.item() == pytest.approx(k3 / 2, rel=1e-6)
    assert out.loss.item() == pytest.approx(0.1 * k3 / 2, rel=1e-6)
