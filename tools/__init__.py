"""Tools roles can call: answer matching, safe arithmetic, search, the Python sandbox."""

__all__: list[str] = []
