"""sparring: train language-model agents by self-play.

Roles (proposer, solver, verifier, judge, planner, refiner) play a game written as a LangGraph
graph; every policy call becomes a `Sample` streamed over NATS JetStream; a trainer consumes the
streams, updates the shared policy and publishes new weights that workers hot-reload.
See docs/architecture.md for the map.
"""

from sparring.messages import (
    SCHEMA_VERSION,
    ChatMessage,
    DeadLetter,
    Episode,
    Metric,
    PolicyVersion,
    Role,
    Sample,
    Task,
)

__version__ = "0.1.0"

__all__ = [
    "SCHEMA_VERSION",
    "ChatMessage",
    "DeadLetter",
    "Episode",
    "Metric",
    "PolicyVersion",
    "Role",
    "Sample",
    "Task",
    "__version__",
]
