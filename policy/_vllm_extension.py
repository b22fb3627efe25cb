"""Methods mixed into vLLM's worker (`worker_extension_cls`) so new weights load in place.

vLLM runs the model in its own worker process; `VLLMPolicy` reaches it with
`collective_rpc("sparring_load_weights", args=(path,))`. A path travels, not tensors (they do not
pickle through the RPC), and the safetensors file is read inside the worker.

Why not `model.load_weights`: on CPU vLLM pre-packs linear weights for oneDNN, so loading into
the packed parameters fails half-way ("Attempted to load weight ... into parameter ([0])").
`reload_weights` re-runs the loader's post-processing; a tied lm_head (the tiny model's, and
many small real ones) keeps its own packed copy on CPU and is re-packed after the embedding it
shares changed (STACK.md). On GPUs the re-pack is a no-op.

This module must import nothing of sparring beyond itself: it is imported in vLLM's process.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WeightLoader"]


class WeightLoader:
    """Worker extension: `self` is vLLM's worker (it has `reload_weights`, `model_runner`)."""

    def sparring_load_weights(self, path: str) -> int:
        """Load every tensor of the safetensors file at `path`; returns how many."""
        from safetensors.torch import load_file

        worker: Any = self
        state = load_file(path)
        worker.reload_weights(weights_iterator=iter(state.items()))
        model = worker.model_runner.get_model()
        config = getattr(model, "config", None)
        lm_head = getattr(model, "lm_head", None)
        method = getattr(lm_head, "quant_method", None)
        if getattr(config, "tie_word_embeddings", False) and method is not None:
            method.process_weights_after_loading(lm_head)
        return len(state)
