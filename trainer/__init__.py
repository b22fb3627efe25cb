"""The streaming trainer: advantages, loss, the optimizer step, checkpoints, weight publication."""

__all__: list[str] = []
