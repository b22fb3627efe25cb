"""The message contract: validation, packed arrays, the kind discriminator, schema versions."""

from __future__ import annotations

import copy
import pickle

import pytest
from pydantic import ValidationError

from sparring._packed import Bits, Float32s, Int32s
from sparring.messages import (
    SCHEMA_VERSION,
    DeadLetter,
    Episode,
    Metric,
    PolicyVersion,
    Role,
    Sample,
    Task,
    message_adapter,
    new_id,
)


def _sample(**over: object) -> Sample:
    fields: dict[str, object] = dict(
        run="r",
        game="arith",
        role=Role.SOLVER,
        episode_id="e",
        group_id="g",
        group_size=5,
        prompt_ids=[1, 2, 3],
        completion_ids=[4, 5],
        logprobs=[-0.5, -1.25],
        loss_mask=[1, 0],
        policy_version=2,
    )
    fields.update(over)
    return Sample.model_validate(fields)


def test_ids_are_unique_and_sort_by_time() -> None:
    ids = [new_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert ids == sorted(ids) or ids[0][:12] <= ids[-1][:12]


def test_a_sample_round_trips_through_python_and_json() -> None:
    s = _sample()
    assert s.completion_ids.tolist() == [4, 5]
    assert s.logprobs.tolist() == [-0.5, -1.25]
    again = Sample.model_validate(s.model_dump())
    assert again == s
    assert Sample.model_validate_json(s.model_dump_json()) == s


def test_packed_arrays_travel_as_little_endian_bytes() -> None:
    dumped = _sample().model_dump()
    assert dumped["completion_ids"] == b"\x04\x00\x00\x00\x05\x00\x00\x00"
    assert dumped["loss_mask"] == b"\x01\x00"


def test_misaligned_logprobs_are_rejected() -> None:
    with pytest.raises(ValidationError, match="same length"):
        _sample(logprobs=[-0.5])


def test_a_byte_string_of_the_wrong_length_is_rejected() -> None:
    with pytest.raises(ValidationError, match="int32"):
        _sample(completion_ids=b"\x01\x02\x03")


def test_messages_are_frozen_and_forbid_extra_fields() -> None:
    s = _sample()
    with pytest.raises(ValidationError):
        s.reward = 1.0  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        _sample(surprise=1)


def test_the_adapter_picks_the_model_by_kind() -> None:
    adapter = message_adapter()
    task = Task(run="r", game="arith", params={"target": 7})
    metric = Metric(run="r", source="trainer", step=1, values={"loss": 0.5})
    pv = PolicyVersion(run="r", version=1, step=1, weights="v1")
    dead = DeadLetter(subject="s", error="bad", data=b"\xff\x00")
    episode = Episode(run="r", game="arith", task=task)
    for msg in (task, metric, pv, dead, episode, _sample()):
        assert adapter.validate_python(msg.model_dump()) == msg
    with pytest.raises(ValidationError, match="tag"):
        adapter.validate_python({"kind": "nonsense"})


def test_a_message_from_a_newer_schema_is_refused_with_advice() -> None:
    data = Task(run="r", game="g").model_dump()
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(ValidationError, match="upgrade sparring"):
        Task.model_validate(data)


def test_dead_letters_keep_arbitrary_bytes_in_json() -> None:
    dead = DeadLetter(subject="s", error="bad", data=bytes(range(256)))
    assert DeadLetter.model_validate_json(dead.model_dump_json()).data == bytes(range(256))


def test_a_packed_array_holds_the_same_bytes_from_validation_to_dump() -> None:
    wire = b"\x04\x00\x00\x00\x05\x00\x00\x00"
    s = _sample(completion_ids=wire)
    assert s.completion_ids.tobytes() is wire  # no copy on the way in (decode) ...
    assert s.model_dump()["completion_ids"] is wire  # ... nor on the way out (encode)
    assert s.completion_ids.tolist() == [4, 5] and s.completion_ids[1] == 5


def test_packed_arrays_compare_and_hash_by_their_wire_bytes() -> None:
    nan = float("nan")
    assert Float32s([nan]) == Float32s([nan])  # the same bytes, though NaN != NaN
    assert Float32s([0.0]) != Float32s([-0.0])  # different bytes (and different hashes)
    assert hash(Int32s([1, 2])) == hash(Int32s(b"\x01\x00\x00\x00\x02\x00\x00\x00"))
    assert Int32s([1, 2]) == [1, 2] and Int32s([1, 2]) != Bits([1, 2])


def test_a_sample_survives_pickle_and_deepcopy() -> None:
    s = _sample()
    assert pickle.loads(pickle.dumps(s)) == s
    assert copy.deepcopy(s) == s


def test_a_token_id_beyond_int32_is_rejected() -> None:
    with pytest.raises(ValidationError, match="int32"):
        _sample(completion_ids=[1, 2**31])
