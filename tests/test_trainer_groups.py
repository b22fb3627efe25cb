"""Group batching: a group is released when complete, and dropped when it times out."""

from __future__ import annotations

from test_trainer_support import make_sample

from sparring.trainer.groups import GroupBuffer


def test_a_group_is_released_exactly_when_its_last_member_arrives() -> None:
    buf = GroupBuffer(timeout_s=10)
    a = [make_sample("a", float(i), group_size=3) for i in range(3)]
    assert buf.add(a[0], now=0.0) is None
    assert buf.add(make_sample("b", 1.0, group_size=2), now=0.5) is None
    assert buf.add(a[1], now=1.0) is None
    assert buf.add(a[2], now=2.0) == a
    assert len(buf) == 1 and buf.n_samples == 1  # only b's first sample waits


def test_a_group_of_one_is_complete_on_arrival() -> None:
    s = make_sample("p", 0.3, group_size=1)
    assert GroupBuffer(timeout_s=1).add(s, now=0.0) == [s]


def test_an_incomplete_group_is_dropped_after_the_timeout_counted_from_its_first_sample() -> None:
    buf = GroupBuffer(timeout_s=5)
    buf.add(make_sample("old", 1.0, group_size=4), now=0.0)
    buf.add(make_sample("old", 0.0, group_size=4), now=4.0)
    buf.add(make_sample("new", 1.0, group_size=2), now=4.0)
    assert buf.expire(now=5.0) == []
    dropped = buf.expire(now=5.5)
    assert [[s.group_id for s in g] for g in dropped] == [["old", "old"]]
    assert len(buf) == 1
    assert buf.add(make_sample("new", 0.0, group_size=2), now=6.0) is not None
