"""One kind table: every kind of `sparring.messages.MESSAGES` travels, routes and has a schema.

Nothing here lists the kinds except `EXAMPLES` (one message of each), and the first test fails
until a new kind has one: the rest then checks the codec, the subjects, a real nats-server and
`sparring schema` for it without any other change.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import BaseModel

from sparring.bus import Bus
from sparring.bus._codec import decode, encode
from sparring.bus._names import ROUTES, RunNames
from sparring.bus.errors import BusError
from sparring.bus_demo import realistic_sample
from sparring.messages import (
    MESSAGES,
    DeadLetter,
    Episode,
    Message,
    Metric,
    PolicyVersion,
    Task,
)
from sparring.schema import write_schemas


def example(kind: str, run: str) -> Message:
    """One valid message of `kind` on `run`."""
    task = Task(run=run, game="arith", params={"target": 7})
    return {
        "task": task,
        "sample": realistic_sample(run, tokens=16, prompt_tokens=4),
        "episode": Episode(run=run, game="arith", task=task),
        "policy_version": PolicyVersion(run=run, version=1, step=1, weights="v1"),
        "metric": Metric(run=run, source="trainer", step=1, values={"loss": 0.5}),
        "dead_letter": DeadLetter(subject="s", error="bad", data=b"\xff"),
    }[kind]


def _matches(pattern: str, subject: str) -> bool:
    """NATS subject matching for the '*' wildcard (the only one the routes use)."""
    p, s = pattern.split("."), subject.split(".")
    return len(p) == len(s) and all(a in ("*", b) for a, b in zip(p, s, strict=True))


def test_every_message_kind_has_an_example_here() -> None:
    for kind in MESSAGES:
        try:
            example(kind, "r")
        except KeyError:
            pytest.fail(f"add an example of the new kind {kind!r} to tests/test_bus_kinds.py")


def test_the_table_maps_each_kind_to_the_class_whose_discriminator_it_is() -> None:
    assert MESSAGES, "the table is built from the Message union"
    for kind, cls in MESSAGES.items():
        assert isinstance(example(kind, "r"), cls)
        assert cls.model_fields["kind"].default == kind


@pytest.mark.parametrize("kind", list(MESSAGES))
def test_every_kind_round_trips_through_the_codec(kind: str) -> None:
    msg = example(kind, "r")
    assert decode(encode(msg), MESSAGES[kind]) == msg


@pytest.mark.parametrize("kind", list(MESSAGES))
def test_every_kind_has_a_subject_its_stream_holds_or_lives_in_the_kv(kind: str) -> None:
    names, route, msg = RunNames("r"), ROUTES[kind], example(kind, "r")
    if route.stream is None:
        with pytest.raises(BusError, match="not published on a subject"):
            names.subject_of(msg)
        return
    subject = names.subject_of(msg)
    assert _matches(names.stream_subject(route), subject)
    assert _matches(names.filter_subject(MESSAGES[kind]), subject)
    other_streams = [r for k, r in ROUTES.items() if k != kind and r.stream is not None]
    assert not any(_matches(names.stream_subject(r), subject) for r in other_streams)


def test_a_class_that_is_not_a_message_has_no_route() -> None:
    class Stray(BaseModel):
        pass

    with pytest.raises(BusError, match="Stray is not a message of the bus"):
        RunNames("r").filter_subject(Stray)


def test_every_kind_gets_a_schema_file(tmp_path: Path) -> None:
    written = write_schemas(tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{k}.schema.json" for k in MESSAGES)


@pytest.mark.parametrize("kind", list(MESSAGES))
async def test_every_kind_is_stored_and_read_back_on_a_real_server(bus: Bus, kind: str) -> None:
    msg, cls = example(kind, bus.run), MESSAGES[kind]
    await bus.publish(msg)
    if cls is PolicyVersion:
        assert await bus.get_policy() == msg
    elif cls is Task:
        consumer = await bus.consumer(Task, durable="kinds")
        [delivery] = await consumer.fetch(1, timeout=3.0)
        assert delivery.message == msg
        await delivery.ack()
    else:
        stream = bus.follow(cls)
        assert await asyncio.wait_for(anext(stream), 3.0) == msg
        await stream.aclose()  # type: ignore[attr-defined]
