"""NATS JetStream for sparring: the embedded server, the run's streams, typed publish and consume.

    async with EmbeddedServer(run_dir / "nats") as server:
        bus = await Bus.connect(server.url, run="myrun", name="trainer")
        await bus.publish_many(samples)
        consumer = await bus.consumer(Sample, durable="trainer")
        for d in await consumer.fetch(256, timeout=1.0):
            ...
            await d.ack()

Subjects, headers and bytes never leave this package: callers see pydantic messages only.
"""

from sparring.bus.bus import Bus, ObjectInfo
from sparring.bus.config import BusConfig
from sparring.bus.consumer import Consumer, Delivery
from sparring.bus.errors import (
    ConnectError,
    ObjectNotFoundError,
    PublishError,
    RunNameError,
    ServerStartError,
    SetupError,
)
from sparring.bus.server import EmbeddedServer

__all__ = [
    "Bus",
    "BusConfig",
    "ConnectError",
    "Consumer",
    "Delivery",
    "EmbeddedServer",
    "ObjectInfo",
    "ObjectNotFoundError",
    "PublishError",
    "RunNameError",
    "ServerStartError",
    "SetupError",
]
