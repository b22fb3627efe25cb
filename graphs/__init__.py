"""Games: LangGraph graphs of roles, with their task source and reward rules."""

__all__: list[str] = []
