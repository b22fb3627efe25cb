"""Tool-output tokens (loss_mask 0) get no gradient from the trainer's own loss and step."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch

from sparring.messages import Sample
from sparring.policy import build_tiny_model
from sparring.policy.tiny import load_model
from sparring.trainer.batch import collate
from sparring.trainer.config import TrainerConfig
from sparring.trainer.loss import policy_loss
from sparring.trainer.step import token_logprobs, train_step

MASK = [1, 1, 1, 0, 0, 0, 0, 1, 1, 1]  # generated, tool output, generated


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    torch.set_num_threads(1)
    path: Path = build_tiny_model(tmp_path_factory.mktemp("tiny"), seed=0)
    loaded, _ = load_model(path, device="cpu")
    return loaded


def _sample(tool_logprob: float, mask: list[int] = MASK) -> Sample:
    logprobs = [-1.0 if m else tool_logprob for m in mask]
    return Sample(
        run="t",
        game="g",
        role="solver",
        episode_id="e",
        group_id="e/g",
        group_size=1,
        prompt_ids=[5, 17, 33, 8],
        completion_ids=[40 + i for i in range(len(mask))],
        logprobs=logprobs,
        loss_mask=mask,
        policy_version=0,
        finish_reason="stop",
    )


def test_the_loss_gradient_at_tool_token_positions_is_exactly_zero(model: Any) -> None:
    batch = collate([_sample(-3.0)], [1.5])
    logp, _ = token_logprobs(model, batch)
    logp.retain_grad()
    out = policy_loss(
        logp,
        batch.behaviour_logprobs,
        batch.advantages,
        batch.loss_mask,
        clip_low=0.2,
        clip_high=0.28,
        is_truncation=2.0,
        ref_logprobs=logp.detach() - 0.3,
        kl_coef=0.1,
    )
    out.loss.backward()
    assert logp.grad is not None
    grad = logp.grad[batch.loss_mask.bool()]
    assert torch.all(grad != 0)  # trained tokens do get a gradient
    assert torch.all(logp.grad[~batch.loss_mask.bool()] == 0)
    assert batch.n_tokens == sum(MASK)


def test_a_train_step_ignores_the_behaviour_logprobs_recorded_for_tool_tokens(model: Any) -> None:
    config = TrainerConfig()
    updates = []
    for tool_logprob in (0.0, -7.0):
        m = copy.deepcopy(model)
        before = [p.detach().clone() for p in m.parameters()]
        optimizer = torch.optim.SGD(m.parameters(), lr=0.1)
        stats = train_step(m, optimizer, collate([_sample(tool_logprob)], [1.0]), config)
        assert stats.tokens == sum(MASK)
        updates.append([p.detach() - b for p, b in zip(m.parameters(), before, strict=True)])
    assert any(u.abs().sum() > 0 for u in updates[0])
    assert all(torch.equal(a, b) for a, b in zip(*updates, strict=True))
    # And unmasking the tool tokens does change the step: the mask is what protects them.
    m = copy.deepcopy(model)
    before = [p.detach().clone() for p in m.parameters()]
    train_step(
        m,
        torch.optim.SGD(m.parameters(), lr=0.1),
        collate([_sample(-7.0, [1] * 10)], [1.0]),
        config,
    )
    unmasked = [p.detach() - b for p, b in zip(m.parameters(), before, strict=True)]
    assert not all(torch.equal(a, b) for a, b in zip(updates[1], unmasked, strict=True))
