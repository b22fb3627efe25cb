"""One real optimizer step on a tiny Qwen3: collation is exact and learning goes the right way."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_trainer_support import build_model_dir, make_sample

from sparring.trainer.batch import collate
from sparring.trainer.config import LoraConfig, TrainerConfig
from sparring.trainer.model import build_optimizer, load_trainable
from sparring.trainer.step import token_logprobs, train_step


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(2)
    return build_model_dir(tmp_path_factory.mktemp("tiny"))


def _completion_logprob(model: torch.nn.Module, prompt: list[int], completion: list[int]) -> float:
    with torch.no_grad():
        logits = model(torch.tensor([prompt + completion])).logits[0].float()
    logp = torch.log_softmax(logits, -1)
    return sum(logp[len(prompt) - 1 + i, t].item() for i, t in enumerate(completion))


def test_collated_logprobs_match_a_plain_forward_pass_of_each_row(model_dir: Path) -> None:
    model = load_trainable(model_dir, TrainerConfig(device="cpu"))
    rows = [([3, 4, 5, 6], [7, 8]), ([9, 10], [11, 12, 13, 14]), ([15], [16])]
    batch = collate([make_sample(prompt=p, completion=c) for p, c in rows], [1.0, 1.0, 1.0])
    with torch.no_grad():
        logp, _ = token_logprobs(model, batch)  # (B, T)
    for i, (p, c) in enumerate(rows):
        got = (logp[i] * batch.loss_mask[i]).sum().item()
        assert got == pytest.approx(_completion_logprob(model, p, c), abs=1e-4)
    assert batch.n_tokens == 7


def test_masked_tokens_do_not_count_toward_the_trained_tokens() -> None:
    batch = collate([make_sample(completion=[8, 9, 10], mask=[1, 0, 1])], [1.0])
    assert batch.n_tokens == 2


def _on_policy(model: torch.nn.Module, prompt: list[int], completion: list[int], reward: float):  # type: ignore[no-untyped-def]
    with torch.no_grad():
        logits = model(torch.tensor([prompt + completion])).logits[0]
    logp = torch.log_softmax(logits, -1)
    mu = [logp[len(prompt) - 1 + i, t].item() for i, t in enumerate(completion)]
    return make_sample(prompt=prompt, completion=completion, logprobs=mu, reward=reward)


@pytest.mark.parametrize("lora", [None, LoraConfig(rank=4, alpha=8, targets=("q_proj", "v_proj"))])
def test_one_step_raises_the_rewarded_completion_and_lowers_the_punished_one(
    model_dir: Path, lora: LoraConfig | None
) -> None:
    config = TrainerConfig(device="cpu", lr=3e-3 if lora is None else 3e-2, lora=lora)
    model = load_trainable(model_dir, config)
    optimizer = build_optimizer(model, config)
    good, bad = ([3, 4, 5], [20, 21, 22]), ([3, 4, 5], [30, 31, 32])
    samples = [_on_policy(model, *good, reward=1.0), _on_policy(model, *bad, reward=0.0)]
    batch = collate(samples, [1.0, -1.0])
    before = (_completion_logprob(model, *good), _completion_logprob(model, *bad))
    stats = train_step(model, optimizer, batch, config)
    after = (_completion_logprob(model, *good), _completion_logprob(model, *bad))
    assert after[0] > before[0] + 0.01
    assert after[1] < before[1] - 0.01
    assert stats.tokens == 6 and stats.samples == 2
    assert stats.ratio == pytest.approx(1.0, abs=1e-4)  # on-policy: pi == mu before the step
    assert stats.entropy > 0 and stats.clip_frac == 0.0


def test_a_kl_step_reports_zero_kl_before_the_policy_moves(model_dir: Path) -> None:
    from sparring.trainer.model import load_reference

    config = TrainerConfig(device="cpu", kl_coef=0.1)
    model = load_trainable(model_dir, config)
    ref = load_reference(model, config)
    assert ref is not None
    batch = collate([_on_policy(model, [3, 4], [5, 6], 1.0)], [1.0])
    first = train_step(model, build_optimizer(model, config), batch, config, ref)
    assert first.kl == pytest.approx(0.0, abs=1e-6)
    second = train_step(model, build_optimizer(model, config), batch, config, ref)
    assert second.kl > 0


def test_under_lora_the_published_merged_weights_make_a_plain_model_compute_the_same(
    model_dir: Path,
) -> None:
    from transformers import AutoModelForCausalLM

    from sparring.trainer.model import load_weights_bytes, weights_bytes, weights_format

    lora = LoraConfig(rank=4, alpha=8, targets=("q_proj", "v_proj", "down_proj"))
    config = TrainerConfig(device="cpu", lr=5e-2, lora=lora)
    model = load_trainable(model_dir, config)
    batch = collate([_on_policy(model, [3, 4, 5], [20, 21], 1.0)], [1.0])
    train_step(model, build_optimizer(model, config), batch, config)
    ids = torch.tensor([[3, 4, 5, 20, 21, 9]])
    with torch.no_grad():
        adapted = model(ids).logits
        plain = AutoModelForCausalLM.from_pretrained(model_dir)
        before = plain(ids).logits
        assert weights_format(model, config) == "full"
        load_weights_bytes(plain, weights_bytes(model, config))
        assert not torch.allclose(before, adapted, atol=1e-4)  # the step moved the adapter
        assert torch.allclose(plain(ids).logits, adapted, atol=1e-5)

        adapter_only = config.model_copy(
            update={"lora": lora.model_copy(update={"publish": "adapter"})}
        )
        other = load_trainable(model_dir, adapter_only)
        assert weights_format(other, adapter_only) == "lora"
        load_weights_bytes(other, weights_bytes(model, adapter_only))
        assert torch.allclose(other(ids).logits, adapted, atol=1e-5)
