"""The arith game: the CPU default, small enough to watch learning on two cores."""

__all__: list[str] = []
