"""What each role of the search game is told: the proposer an answer and a number of searches,
the solver (and the RAG verifier, which is asked what a solver is asked) a question."""

from __future__ import annotations

from sparring.messages import ChatMessage

__all__ = ["proposer_messages", "solver_messages"]


def proposer_messages(answer: str, hops: int) -> list[ChatMessage]:
    """The proposer's prompt: the gold answer and the searches to make."""
    return [ChatMessage(role="user", content=f"answer: {answer}\nsearches: {hops}")]


def solver_messages(question: str) -> list[ChatMessage]:
    """The solver's prompt: the question only (it has the search tool)."""
    return [ChatMessage(role="user", content=f"question: {question}")]
