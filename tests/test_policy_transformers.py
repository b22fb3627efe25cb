"""TransformersPolicy on the tiny real model: batching, exact logprobs, stopping, hot reload."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import save, save_file

from sparring.errors import PolicyError
from sparring.messages import ChatMessage
from sparring.policy import (
    Policy,
    SamplingParams,
    TransformersPolicy,
    build_tiny_model,
    load_model,
)

GREEDY = SamplingParams(max_new_tokens=24, temperature=0)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), seed=0)


@pytest.fixture
async def policy(model_dir: Path) -> AsyncIterator[TransformersPolicy]:
    p = TransformersPolicy(model_dir, device="cpu")
    yield p
    await p.aclose()


def _ask(i: int) -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content="You are the solver."),
        ChatMessage(role="user", content=f"What is {i} + {i * 7}?" + " Think." * (i % 4)),
    ]


async def test_generate_returns_aligned_ids_and_logprobs_for_a_chat_prompt(
    policy: TransformersPolicy,
) -> None:
    assert isinstance(policy, Policy)
    gen = await policy.generate(_ask(3), SamplingParams(max_new_tokens=16))
    assert gen.prompt_ids == policy.render(_ask(3))
    assert policy.decode(gen.prompt_ids).endswith("assistant\n")
    assert 1 <= len(gen.completion_ids) == len(gen.logprobs) <= 16
    assert all(lp <= 0 for lp in gen.logprobs)
    assert gen.text == policy.decode(gen.completion_ids)
    assert gen.policy_version == 0


async def test_recorded_logprobs_match_a_teacher_forced_forward_pass(
    policy: TransformersPolicy,
) -> None:
    params = SamplingParams(max_new_tokens=20, temperature=0.8, top_p=0.9)
    # Prompts of different lengths in one batch, so left padding is exercised.
    gens = await asyncio.gather(*(policy.generate(_ask(i), params) for i in range(6)))
    assert policy.batches == 1
    for gen in gens:
        ids = torch.tensor([gen.prompt_ids + gen.completion_ids])
        with torch.no_grad():
            logits = policy.model(ids).logits.float()[0]  # (T, V)
        n = len(gen.prompt_ids)
        want = torch.log_softmax(logits[n - 1 : -1], -1).gather(-1, ids[0, n:, None])[:, 0]
        assert torch.allclose(torch.tensor(gen.logprobs), want, atol=1e-4)


async def test_thirty_two_concurrent_calls_share_fewer_generate_batches(
    policy: TransformersPolicy,
) -> None:
    prompts = [policy.render(_ask(i)) for i in range(32)]
    gens = await asyncio.gather(*(policy.generate(p, GREEDY) for p in prompts))
    assert policy.batches < 32
    assert [g.prompt_ids for g in gens] == prompts  # token ids fed as-is, answers in order
    solo = await policy.generate(prompts[5], GREEDY)
    assert solo.completion_ids == gens[5].completion_ids  # padding does not change the answer


async def test_greedy_decoding_is_deterministic(policy: TransformersPolicy) -> None:
    first = await policy.generate(_ask(1), GREEDY)
    again = await policy.generate(_ask(1), GREEDY)
    assert first.completion_ids == again.completion_ids
    assert first.logprobs == pytest.approx(again.logprobs, abs=1e-5)


async def test_max_new_tokens_ends_with_length_and_a_stop_string_with_stop(
    policy: TransformersPolicy,
) -> None:
    full = await policy.generate(_ask(2), GREEDY)
    assert full.finish_reason == "length" and len(full.completion_ids) == 24
    stop = policy.decode(full.completion_ids[6:8])
    assert stop.strip()
    short, stopped = await asyncio.gather(
        policy.generate(_ask(2), SamplingParams(max_new_tokens=5, temperature=0)),
        policy.generate(_ask(2), SamplingParams(max_new_tokens=24, temperature=0, stop=(stop,))),
    )
    assert short.finish_reason == "length" and short.completion_ids == full.completion_ids[:5]
    assert stopped.finish_reason == "stop"
    assert stopped.completion_ids == full.completion_ids[: len(stopped.completion_ids)]
    assert len(stopped.completion_ids) <= 8
    assert stop in stopped.text
    assert stop not in policy.decode(stopped.completion_ids[:-1])


async def test_loaded_weights_change_answers_and_bump_the_version_after_the_call_in_flight(
    policy: TransformersPolicy, model_dir: Path, tmp_path: Path
) -> None:
    before = await policy.generate(_ask(4), GREEDY)
    state = {k: v.clone() for k, v in policy.model.state_dict().items()}
    # A zero final norm makes every logit 0, so greedy picks id 0 (<|endoftext|>, an EOS).
    state["model.norm.weight"] = torch.zeros_like(state["model.norm.weight"])
    long = SamplingParams(max_new_tokens=300, temperature=0)
    in_flight = asyncio.create_task(policy.generate(_ask(4), long))
    await asyncio.sleep(0.05)  # past the batching window: the long call is now generating
    assert policy.batches == 2 and not in_flight.done()
    await policy.load_weights(save(state), version=1)
    old = await in_flight
    assert old.policy_version == 0
    assert old.completion_ids[:24] == before.completion_ids

    after = await policy.generate(_ask(4), GREEDY)
    assert policy.version == after.policy_version == 1
    assert after.completion_ids == [0] and after.finish_reason == "stop"
    assert after.logprobs[0] == pytest.approx(-torch.log(torch.tensor(512.0)).item(), abs=1e-4)

    # Back to the saved model from a folder whose file omits the tied lm_head.
    await policy.load_weights(model_dir, version=2)
    assert (await policy.generate(_ask(4), GREEDY)).completion_ids == before.completion_ids
    save_file(state, str(tmp_path / "w.safetensors"))
    await policy.load_weights(tmp_path / "w.safetensors", version=3)
    assert (await policy.generate(_ask(4), GREEDY)).policy_version == 3


async def test_a_prompt_longer_than_the_model_allows_is_refused_with_a_policy_error(
    policy: TransformersPolicy,
) -> None:
    with pytest.raises(PolicyError, match="shorten"):
        await policy.generate([5] * 2040, SamplingParams(max_new_tokens=16))
    with pytest.raises(PolicyError, match="empty prompt"):
        await policy.generate([], GREEDY)


async def test_a_loaded_model_and_tokenizer_are_served_like_a_folder(
    policy: TransformersPolicy, model_dir: Path
) -> None:
    model, tokenizer = load_model(model_dir, device="auto")
    loaded = TransformersPolicy(model, tokenizer, version=7)
    a, b = await asyncio.gather(loaded.generate(_ask(1), GREEDY), policy.generate(_ask(1), GREEDY))
    assert a.completion_ids == b.completion_ids and a.policy_version == 7
    await loaded.aclose()
    with pytest.raises(PolicyError, match="tokenizer"):
        TransformersPolicy(model)


async def test_lora_adapters_are_merged_into_the_starting_weights_version_by_version(
    model_dir: Path,
) -> None:
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
    from transformers import AutoModelForCausalLM

    from sparring.policy.base import AdapterShape

    targets = ("q_proj", "v_proj")
    shape = AdapterShape(rank=4, alpha=8.0, targets=targets)
    policy = TransformersPolicy(model_dir, device="cpu", adapter=shape)
    for version, seed in ((1, 1), (2, 2)):  # each version is a delta on the start, not stacked
        torch.manual_seed(seed)
        base = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
        peft_model = get_peft_model(
            base, LoraConfig(r=4, lora_alpha=8, target_modules=list(targets))
        )
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.data.normal_(0, 0.3)
        adapter = {k: v.contiguous() for k, v in get_peft_model_state_dict(peft_model).items()}
        merged = peft_model.merge_and_unload().eval()
        await policy.load_weights(save(adapter), version, "lora")
        gen = await policy.generate(_ask(0), SamplingParams(max_new_tokens=8, temperature=0))
        assert gen.policy_version == version
        with torch.no_grad():
            ids = torch.tensor([gen.prompt_ids])
            want = merged.generate(ids, max_new_tokens=8, do_sample=False, eos_token_id=None)
        assert (
            gen.completion_ids == want[0, len(gen.prompt_ids) :].tolist()[: len(gen.completion_ids)]
        )
    with pytest.raises(PolicyError, match="not a LoRA A or B"):
        await policy.load_weights(save({"model.embed_tokens.weight": torch.zeros(2)}), 3, "lora")
    plain = TransformersPolicy(model_dir, device="cpu")
    with pytest.raises(PolicyError, match="AdapterShape"):
        await plain.load_weights(save(adapter), 1, "lora")
    await policy.aclose()
    await plain.aclose()
