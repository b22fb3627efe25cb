"""TransformersPolicy: the Policy protocol over a transformers causal LM, batched, hot-reloadable.

    policy = TransformersPolicy(model_dir)                           # CPU float32 / CUDA bf16
    gen = await policy.generate(messages, SamplingParams(max_new_tokens=32, stop=("\\n",)))
    await policy.load_weights(safetensors_bytes, version=3)          # between batches

Concurrent `generate` calls (one per episode) are merged by a `DynamicBatcher` into left-padded
`model.generate` calls, one per group of equal (temperature, top_p); the blocking call runs in a
worker thread so the event loop keeps serving episodes. Each request keeps its own
`max_new_tokens` and stop strings through a per-row stopping criterion.

Logprobs: the recorded logprob of a sampled token is log_softmax of the model's raw logits at
temperature 1, before temperature, top-p or any other processor (what vLLM returns too, and what
a trainer's forward pass recomputes, so importance ratios compare like with like). In float32
they match a teacher-forced forward pass of the same tokens to ~1e-6.

Finish: an EOS token ends a completion with finish_reason "stop" (the EOS is kept, with its
logprob, so the model is trained to stop); a stop string cuts the completion after the first
token that completes it ("stop", the string kept, token-aligned); reaching max_new_tokens gives
"length". Generation.text is the kept ids decoded without special tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparring.errors import PolicyError
from sparring.policy._batching import DynamicBatcher
from sparring.policy._codec import Codec, Tokenized, eos_ids
from sparring.policy._finish import cut_completion
from sparring.policy._weights import apply_state, merged_adapter, read_state
from sparring.policy.base import AdapterShape, Generation, Prompt, SamplingParams, WeightsFormat

if TYPE_CHECKING:
    import torch

__all__ = ["TransformersPolicy"]


@dataclass(frozen=True)
class _Request:
    prompt_ids: list[int]
    params: SamplingParams


@dataclass(frozen=True)
class _Output:
    """What one row of a batched generate produced, before cutting."""

    ids: list[int]
    logprobs: list[float]
    version: int


class TransformersPolicy(Tokenized):
    """Serves one transformers causal LM to many concurrent episodes."""

    def __init__(
        self,
        model: str | Path | Any,
        tokenizer: Any = None,
        *,
        device: str | None = None,
        dtype: torch.dtype | None = None,
        max_batch: int = 64,
        batch_wait_ms: float = 4.0,
        version: int = 0,
        adapter: AdapterShape | None = None,
    ) -> None:
        """Serve a model folder or hub id, or a loaded (model, tokenizer) pair.

        A folder or id loads with `load_model` (device None or 'auto': CUDA if present, else CPU;
        bf16 on CUDA, float32 on CPU). A loaded model must be in eval mode on its device, with a
        tokenizer that has a pad token and a chat template. max_batch: most requests in one
        model.generate call. batch_wait_ms: how long the first request of a batch waits for
        company (a few ms costs little next to a generate call). adapter: the shape of the LoRA
        adapters it will be sent (`trainer.lora.publish=adapter`), merged as they arrive.
        """
        if isinstance(model, str | Path):
            if tokenizer is not None:
                raise PolicyError("pass a model folder alone, or a loaded model with its tokenizer")
            from sparring.policy.tiny import load_model

            model, tokenizer = load_model(model, device, dtype)
        elif tokenizer is None:
            raise PolicyError("a loaded model needs its tokenizer: TransformersPolicy(model, tok)")
        if tokenizer.pad_token_id is None:
            raise PolicyError("the tokenizer has no pad token: set tokenizer.pad_token first")
        self.model = model
        self.tokenizer = tokenizer
        self._version = version
        self._eos = eos_ids(model.generation_config, tokenizer)
        self._codec = Codec(tokenizer, getattr(model.config, "max_position_embeddings", None))
        self._batcher: DynamicBatcher[_Request, _Output] = DynamicBatcher(
            self._run_group, key=_group_key, max_batch=max_batch, wait_s=batch_wait_ms / 1000
        )
        self._lock: asyncio.Lock | None = None
        self._adapter = adapter
        self._base: dict[str, torch.Tensor] | None = None

    @property
    def version(self) -> int:
        return self._version

    @property
    def batches(self) -> int:
        """model.generate calls made so far (fewer than calls when batching works)."""
        return self._batcher.batches

    async def generate(self, prompt: Prompt, params: SamplingParams) -> Generation:
        prompt_ids = self._codec.prompt_ids(prompt, params)
        out = await self._batcher.submit(_Request(prompt_ids, params))
        ids, logprobs, reason = cut_completion(
            out.ids, out.logprobs, params, self._eos, self.decode
        )
        return Generation(
            prompt_ids=prompt_ids,
            completion_ids=ids,
            logprobs=logprobs,
            text=self.decode(ids),
            finish_reason=reason,
            policy_version=out.version,
        )

    async def load_weights(
        self,
        state: Mapping[str, torch.Tensor] | bytes | Path,
        version: int,
        format: WeightsFormat = "full",
    ) -> None:
        """Swap in new weights after the batch in flight; later batches carry `version`.

        `state`: tensors by name, safetensors bytes, or a .safetensors file or folder. Calls
        queued behind the swap run on the new weights; the batch in flight finishes on the old.
        A LoRA adapter (format 'lora') is merged into the weights the policy started with,
        when it was built with the adapters' `AdapterShape`; without one it is refused.
        """
        if format != "full" and self._adapter is None:
            raise PolicyError(
                f"TransformersPolicy serves full weights, not a {format!r} adapter (version "
                f"{version}), unless built with the adapters' AdapterShape: set "
                "trainer.lora.publish=merged, or pass adapter=AdapterShape(...)"
            )
        tensors = await asyncio.to_thread(read_state, state)
        async with self._weights_lock():
            if format == "full":
                await asyncio.to_thread(apply_state, self.model, tensors)
            else:
                await asyncio.to_thread(self._apply_adapter, tensors)
            self._version = version

    def _apply_adapter(self, adapter: Mapping[str, torch.Tensor]) -> None:
        import torch

        assert self._adapter is not None
        if self._base is None:  # the weights every adapter version is a delta on
            own = self.model.state_dict()
            self._base = {k: v.detach().clone() for k, v in own.items()}
        scale = self._adapter.alpha / self._adapter.rank
        merged = merged_adapter(self._base, adapter, scale)
        own = self.model.state_dict()
        with torch.no_grad():
            for name, tensor in merged.items():
                own[name].copy_(tensor)

    async def aclose(self) -> None:
        """Stop the batching task (pending calls are cancelled)."""
        await self._batcher.aclose()

    def _weights_lock(self) -> asyncio.Lock:
        # Created on first use so the lock belongs to the loop that serves the policy.
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def _run_group(self, group: list[_Request]) -> list[_Output]:
        async with self._weights_lock():
            version = self._version
            rows = await asyncio.to_thread(self._generate_batch, group)
        return [_Output(ids, lps, version) for ids, lps in rows]

    def _generate_batch(self, group: list[_Request]) -> list[tuple[list[int], list[float]]]:
        """One blocking model.generate over a group of equal sampling settings."""
        import torch

        pad = self.tokenizer.pad({"input_ids": [r.prompt_ids for r in group]}, return_tensors="pt")
        device = self.model.device
        input_ids = pad["input_ids"].to(device)  # (B, T) left-padded
        kwargs: dict[str, Any] = {}
        criterion = _RowStop.for_group(group, input_ids.shape[1], self.tokenizer)
        if criterion is not None:
            from transformers import StoppingCriteriaList

            kwargs["stopping_criteria"] = StoppingCriteriaList([criterion])
        with torch.no_grad():
            out = self.model.generate(
                input_ids=input_ids,
                attention_mask=pad["attention_mask"].to(device),
                generation_config=self._generation_config(group),
                **kwargs,
            )
        new = out.sequences[:, input_ids.shape[1] :]  # (B, N)
        logits = torch.stack(out.logits, dim=1).float()  # (B, N, V) raw, temperature 1
        logprobs = torch.log_softmax(logits, dim=-1).gather(-1, new[..., None])[..., 0]
        return list(zip(new.tolist(), logprobs.tolist(), strict=True))

    def _generation_config(self, group: list[_Request]) -> Any:
        from transformers import GenerationConfig

        params = group[0].params
        sampling: dict[str, Any] = {"do_sample": False}
        if params.temperature > 0:
            # top_k=0: transformers defaults to top-k 50, and SamplingParams has only top-p.
            sampling = {"do_sample": True, "temperature": params.temperature, "top_k": 0}
            sampling["top_p"] = params.top_p
        return GenerationConfig(
            max_new_tokens=max(r.params.max_new_tokens for r in group),
            eos_token_id=sorted(self._eos),
            pad_token_id=self.tokenizer.pad_token_id,
            output_logits=True,
            return_dict_in_generate=True,
            **sampling,
        )


def _group_key(request: _Request) -> tuple[float, float]:
    # transformers samples a whole batch with one temperature/top-p; everything else is per row.
    p = request.params
    return (p.temperature, p.top_p if p.temperature > 0 else 1.0)


class _RowStop:
    """Stopping criterion that ends each row at its own max_new_tokens or stop string."""

    def __init__(self, prompt_len: int, group: list[_Request], tokenizer: Any) -> None:
        import torch

        self.prompt_len = prompt_len
        self.max_new = torch.tensor([r.params.max_new_tokens for r in group])  # (B,)
        self.stops = [r.params.stop for r in group]
        # Enough trailing tokens to hold any stop string (a byte-level token is >= 1/4 char).
        self.tail = 4 * max((len(s) for r in group for s in r.params.stop), default=0) + 4
        self.tokenizer = tokenizer

    @classmethod
    def for_group(cls, group: list[_Request], prompt_len: int, tokenizer: Any) -> _RowStop | None:
        """None when every row stops at the batch's max_new_tokens and has no stop strings."""
        uniform = len({r.params.max_new_tokens for r in group}) == 1
        if uniform and not any(r.params.stop for r in group):
            return None
        return cls(prompt_len, group, tokenizer)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> Any:
        new = input_ids[:, self.prompt_len :]  # (B, n)
        done = (new.shape[1] >= self.max_new).to(input_ids.device)  # (B,)
        for row, stops in enumerate(self.stops):
            if stops and not done[row]:
                text = self.tokenizer.decode(new[row, -self.tail :], skip_special_tokens=True)
                done[row] = any(s in text for s in stops)
        return done
