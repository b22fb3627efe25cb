"""One policy from its config: the backend the run config names, started on a model.

    policy = start_policy(config.policy, model_dir)                       # the shared policy
    judge = start_policy(config.roles["judge"].policy, model_dir)         # a role's own

Call it inside a running event loop (vLLM's engine attaches to it). Backends are imported only
when chosen, so a machine without vLLM runs every other backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sparring.policy.config import BackendConfig

__all__ = ["close_policy", "start_policy"]


def start_policy(
    config: BackendConfig,
    model: str | Path,
    *,
    adapter: Any = None,
    require_logprobs: bool = True,
) -> Any:
    """Start `config.backend` on `config.model`, or on `model` when the config names none.

    adapter: the `AdapterShape` of LoRA versions the trainer will publish (vLLM serves them
    as adapters, transformers merges them). require_logprobs: the policy's calls are
    trained, so a server must return token ids and logprobs (backend 'openai')."""
    model = config.model or model
    if config.backend == "vllm":
        from sparring.policy.vllm_backend import VLLMPolicy

        return VLLMPolicy.start(model, config.vllm, device=config.device, adapter=adapter)
    if config.backend == "openai":
        from sparring.policy._codec import load_tokenizer
        from sparring.policy.openai_backend import OpenAIPolicy

        assert config.openai is not None  # BackendConfig validates it
        tokenizer = load_tokenizer(config.openai.tokenizer or model)
        return OpenAIPolicy(config.openai, tokenizer, require_logprobs=require_logprobs)
    from sparring.policy.transformers_backend import TransformersPolicy

    return TransformersPolicy(
        model,
        device=config.device,
        max_batch=config.max_batch,
        batch_wait_ms=config.batch_wait_ms,
        adapter=adapter,
    )


async def close_policy(policy: Any) -> None:
    """Release what a policy holds (vLLM's engine process, an HTTP client, a batching task)."""
    close = getattr(policy, "aclose", None)
    if close is not None:
        await close()
