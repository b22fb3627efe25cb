"""NATS JetStream: the embedded server, streams, typed publish and consume, dead letters."""

__all__: list[str] = []
