"""Models and inference backends behind the `Policy` protocol.

`build_tiny_model` writes the offline tiny model; `load_model` loads any local folder or hub id;
`TransformersPolicy` serves one with dynamic batching and weight hot-reload.
"""

from sparring.policy.base import Generation, Policy, Prompt, SamplingParams, WeightsFormat
from sparring.policy.scripted import ScriptedPolicy
from sparring.policy.tiny import build_tiny_model, build_tiny_tokenizer, load_model
from sparring.policy.transformers_backend import TransformersPolicy

__all__ = [
    "Generation",
    "Policy",
    "Prompt",
    "SamplingParams",
    "ScriptedPolicy",
    "TransformersPolicy",
    "WeightsFormat",
    "build_tiny_model",
    "build_tiny_tokenizer",
    "load_model",
]
