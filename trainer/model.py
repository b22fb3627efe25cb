"""Loading the trained model and turning its weights into the bytes workers load.

`load_trainable(model_dir, config)` loads the run's model folder with
`AutoModelForCausalLM.from_pretrained` onto the configured device in fp32 (bf16 autocast does the
speed-up on CUDA), wraps it in a peft LoRA adapter when `config.lora` is set, and builds AdamW.
`weights_bytes(model)` is what gets published: the full state dict, or only the adapter under
LoRA, as safetensors bytes; `load_weights_bytes` is the inverse a test or a worker can use.
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


def weights_format(model: Any) -> Literal["full", "lora"]:
    """'lora' when `model` is a peft model (only the adapter is published)."""
    return "lora" if hasattr(model, "peft_config") else "full"


def trained_state(model: Any) -> dict[str, torch.Tensor]:
    """The tensors that define the trained weights: the adapter under LoRA, else everything."""
    if weights_format(model) == "lora":
        from peft import get_peft_model_state_dict

        state = get_peft_model_state_dict(model)
    else:
        state = model.state_dict()
    # Clone per key: tied embeddings share storage, which safetensors refuses to write.
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}


def weights_bytes(model: Any) -> bytes:
    """safetensors bytes of `trained_state(model)`."""
    from safetensors.torch import save

    return bytes(save(trained_state(model)))


def load_weights_bytes(model: Any, data: bytes) -> None:
    """Load bytes made by `weights_bytes` into a model of the same architecture (in place)."""
    from safetensors.torch import load

    state = load(data)
    if weights_format(model) == "lora":
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, state)
    else:
        model.load_state_dict(state)
