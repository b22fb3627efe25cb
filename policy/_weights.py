"""Reading new weights and copying them into a live model, for hot-reload between batches.

The trainer publishes a full state dict as safetensors (bytes in the Object Store, or a file);
tests and in-process trainers hand a mapping of tensors. `read_state` accepts all three;
`apply_state` copies the tensors into the model's existing parameters (same storage, so tied
embeddings stay tied and no optimizer or compiled graph holds a stale tensor).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparring.errors import PolicyError

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["apply_state", "merged_adapter", "read_state"]


def read_state(source: Mapping[str, Tensor] | bytes | Path | str) -> dict[str, Tensor]:
    """Tensors by name from a mapping, safetensors bytes, a .safetensors file or a folder."""
    if isinstance(source, Mapping):
        return dict(source)
    from safetensors.torch import load, load_file

    if isinstance(source, bytes | bytearray):
        return load(bytes(source))
    path = Path(source)
    files = sorted(path.glob("*.safetensors")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise PolicyError(f"no safetensors weights at {path}: pass a .safetensors file or folder")
    state: dict[str, Tensor] = {}
    for f in files:
        state.update(load_file(str(f)))
    return state


def apply_state(model: Any, state: Mapping[str, Tensor]) -> None:
    """Copy `state` into `model` in place; every parameter must be covered (ties count)."""
    import torch

    own = model.state_dict()
    unexpected = sorted(set(state) - set(own))
    if unexpected:
        raise PolicyError(
            f"weights hold {len(unexpected)} tensors this model lacks (e.g. {unexpected[:3]}): "
            "they were saved from another architecture or with a prefix (e.g. a peft wrapper)"
        )
    given = {own[k].data_ptr() for k in state}
    # A tied lm_head shares storage with the embedding, so save_pretrained omits it and loading
    # the embedding updates both.
    missing = sorted(k for k in set(own) - set(state) if own[k].data_ptr() not in given)
    if missing:
        raise PolicyError(f"weights lack {len(missing)} tensors (e.g. {missing[:3]}): send all")
    try:
        with torch.no_grad():
            model.load_state_dict(state, strict=False)
    except RuntimeError as e:
        raise PolicyError(f"weights do not fit the model: {e}") from e


def merged_adapter(
    base: Mapping[str, Tensor], adapter: Mapping[str, Tensor], scale: float
) -> dict[str, Tensor]:
    """The weights a LoRA adapter (peft's saved names) makes of `base`: W + scale * B A for
    every module it adapts (scale = alpha / rank), keyed as the plain model names them."""
    pairs: dict[str, dict[str, Tensor]] = {}
    for key, tensor in adapter.items():
        module, sep, rest = key.removeprefix("base_model.model.").rpartition(".lora_")
        if not sep or rest not in ("A.weight", "B.weight"):
            raise PolicyError(f"adapter tensor {key!r} is not a LoRA A or B weight (peft names)")
        pairs.setdefault(f"{module}.weight", {})[rest[0]] = tensor
    merged = {}
    for name, ab in pairs.items():
        if name not in base or set(ab) != {"A", "B"}:
            raise PolicyError(f"the adapter does not fit the model at {name!r}")
        merged[name] = base[name] + scale * (
            ab["B"].to(base[name].dtype) @ ab["A"].to(base[name].dtype)
        )
    return merged
