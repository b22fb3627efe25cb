"""The roles (proposer, solver, verifier, judge, ...): plain async functions over a Policy."""

__all__: list[str] = []
