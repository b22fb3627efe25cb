"""Models and inference backends behind the `Policy` protocol."""

from sparring.policy.base import Generation, Policy, Prompt, SamplingParams
from sparring.policy.scripted import ScriptedPolicy

__all__ = ["Generation", "Policy", "Prompt", "SamplingParams", "ScriptedPolicy"]
