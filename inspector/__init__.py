"""The live conversation viewer (web) and the terminal tail."""

__all__: list[str] = []
