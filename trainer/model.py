"""Loading the trained model and turning its weights into the bytes workers load.

`load_trainable(model_dir, config)` loads the run's model folder with
`AutoModelForCausalLM.from_pretrained` onto the configured device in fp32 (bf16 autocast does the
speed-up on CUDA), wraps it in a peft LoRA adapter when `config.lora` is set, and builds AdamW.
`weights_bytes(model, config)` is what gets published, as safetensors bytes: the full state dict
(under LoRA the base with the adapter folded in, so any worker loads it as plain weights), or
the adapter alone when `config.lora.publish == "adapter"`; `load_weights_bytes` is the inverse.
Checkpoints keep `trained_state(model)`: the adapter alone under LoRA.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import torch

from sparring.trainer.config import TrainerConfig
from sparring.trainer.errors import ModelLoadError

__all__ = [
    "build_optimizer",
    "load_reference",
    "load_trainable",
    "load_weights_bytes",
    "merged_state",
    "published_state",
    "resolve_device",
    "trained_state",
    "weights_bytes",
    "weights_format",
]


def resolve_device(name: str) -> torch.device:
    """'auto' is the first CUDA device when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def load_trainable(model_dir: Path, config: TrainerConfig) -> Any:
    """The model to train, on its device, LoRA-wrapped if configured."""
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    except (OSError, ValueError) as e:
        raise ModelLoadError(model_dir, str(e)) from e
    model.to(resolve_device(config.device))
    if config.lora is not None:
        from peft import LoraConfig, get_peft_model

        peft_config = LoraConfig(
            r=config.lora.rank,
            lora_alpha=config.lora.alpha,
            target_modules=list(config.lora.targets),
            lora_dropout=config.lora.dropout,
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, peft_config)
    return model


def load_reference(model: Any, config: TrainerConfig) -> Any | None:
    """A frozen copy of the initial weights for the KL term, or None when none is needed.

    Under LoRA the base model with its adapter disabled is the reference, so nothing is copied.
    """
    if config.kl_coef == 0 or config.lora is not None:
        return None
    ref = copy.deepcopy(model).eval()
    ref.requires_grad_(False)
    return ref


def build_optimizer(model: Any, config: TrainerConfig) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters (all of them, or the adapter's)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(
        params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
    )


def _adapter_only(model: Any, config: TrainerConfig) -> bool:
    return config.lora is not None and config.lora.publish == "adapter" and _is_peft(model)


def _is_peft(model: Any) -> bool:
    return hasattr(model, "peft_config")


def weights_format(model: Any, config: TrainerConfig) -> Literal["full", "lora"]:
    """What `weights_bytes` publishes: 'lora' for an adapter alone, else 'full'."""
    return "lora" if _adapter_only(model, config) else "full"


def trained_state(model: Any) -> dict[str, torch.Tensor]:
    """The tensors a checkpoint keeps: the adapter under LoRA, else every weight."""
    if _is_peft(model):
        from peft import get_peft_model_state_dict

        return _host(get_peft_model_state_dict(model))
    return _host(model.state_dict())


def merged_state(model: Any) -> dict[str, torch.Tensor]:
    """Full weights of a peft model with its adapter folded in (W + scale * B A), named as the
    plain model names them; the model itself is left untouched (no merge/unmerge drift)."""
    from peft.tuners.lora import LoraLayer

    base = model.get_base_model()
    state = {
        k.replace(".base_layer.", "."): v for k, v in base.state_dict().items() if ".lora_" not in k
    }
    with torch.no_grad():
        for name, module in base.named_modules():
            if isinstance(module, LoraLayer):
                weight = module.get_base_layer().weight
                for adapter in module.active_adapters:
                    weight = weight + module.get_delta_weight(adapter)
                state[f"{name}.weight"] = weight
    return _host(state)


def _host(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # Clone per key: tied embeddings share storage, which safetensors refuses to write.
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}


def published_state(model: Any, config: TrainerConfig) -> dict[str, torch.Tensor]:
    """The tensors workers load, on the CPU: full (merged under LoRA) or the adapter alone."""
    if _adapter_only(model, config):
        return trained_state(model)
    if _is_peft(model):
        return merged_state(model)
    return trained_state(model)


def weights_bytes(model: Any, config: TrainerConfig) -> bytes:
    """safetensors bytes of `published_state`."""
    from safetensors.torch import save

    return bytes(save(published_state(model, config)))


def load_weights_bytes(model: Any, data: bytes) -> None:
    """Load bytes made by `weights_bytes` into a model (in place): full weights into a plain
    model of the same architecture, an adapter into a peft model with the same LoRA config."""
    from safetensors.torch import load

    state = load(data)
    if _is_peft(model):
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, state)
    else:
        model.load_state_dict(state)
