"""What each role of the hiersearch game is told.

Every prompt names its role's job in its first line, because one policy plays them all: a
1-hop question reads the same to the planner (who delegates it) and to a sub-agent (who
searches for it), and only the first line tells which is meant.
"""

from __future__ import annotations

from sparring.messages import ChatMessage
from sparring.tools.world import Half

__all__ = ["agent_messages", "planner_messages", "refiner_messages"]


def planner_messages(question: str) -> list[ChatMessage]:
    """The planner's prompt: the question; its tools are the agents `<local>` and `<web>`."""
    return [ChatMessage(role="user", content=f"plan with local, web\nquestion: {question}")]


def agent_messages(half: Half, question: str) -> list[ChatMessage]:
    """A sub-agent's prompt: its source and the planner's sub-question."""
    return [ChatMessage(role="user", content=f"search {half}\nquestion: {question}")]


def refiner_messages(question: str, document: str) -> list[ChatMessage]:
    """The policy refiner's prompt: a sub-question and one returned document, keep or not."""
    return [ChatMessage(role="user", content=f"refine\nquestion: {question}\ndocument: {document}")]
