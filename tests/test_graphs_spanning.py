"""Groups that span episodes: a seat's moves from k games form one group, sized when it closes."""

from __future__ import annotations

from test_trainer_support import make_sample

from sparring.credit import RoleSpec
from sparring.graphs.spanning import SpanGrouper
from sparring.messages import Episode, Sample, SampleReward, Task

ROLES = {
    "player_0": RoleSpec(estimator="grpo", grouping="episodes", span=3),
    "judge": RoleSpec(estimator="rae", grouping="call"),
}


def _episode(moves: int, i: int) -> tuple[list[Sample], Episode]:
    samples = [make_sample(f"ep{i}/moves", 1.0 - m % 2, role="player_0") for m in range(moves)]
    samples.append(make_sample(f"ep{i}/judge", 0.5, role="judge"))
    rewards = [
        SampleReward(sample_id=s.id, role=s.role, group_id=s.group_id, reward=s.reward or 0.0)
        for s in samples
    ]
    episode = Episode(run="r", game="duel", task=Task(run="r", game="duel"), rewards=rewards)
    return samples, episode


def test_a_spanning_role_is_held_until_its_span_closes_then_released_as_one_group() -> None:
    spans = SpanGrouper(ROLES, prefix="worker-0")
    released: list[Sample] = []
    for i, moves in enumerate([2, 3]):
        samples, episode = _episode(moves, i)
        record, ready = spans.add(samples, episode)
        assert [s.role for s in ready] == ["judge"]  # other roles pass straight through
        released += ready
        # The episode record already names the group the moves will train in.
        groups = {r.group_id for r in record.rewards if r.role == "player_0"}
        assert len(groups) == 1 and groups.pop().startswith("worker-0/player_0/")
    assert spans.held == 5
    samples, episode = _episode(1, 2)
    _, ready = spans.add(samples, episode)
    moves = [s for s in ready if s.role == "player_0"]
    assert len(moves) == 6 and spans.held == 0
    assert len({s.group_id for s in moves}) == 1 and {s.group_size for s in moves} == {6}


def test_the_next_span_is_a_new_group_and_flush_releases_an_open_one_at_its_size() -> None:
    spans = SpanGrouper(ROLES, prefix="w")
    first: list[Sample] = []
    for i in range(3):
        first += [s for s in spans.add(*_episode(1, i))[1] if s.role == "player_0"]
    spans.add(*_episode(2, 3))
    rest = spans.flush()
    assert len(rest) == 2 and {s.group_size for s in rest} == {2}
    assert rest[0].group_id != first[0].group_id
    assert spans.flush() == []


def test_a_game_without_spanning_roles_passes_everything_through_unchanged() -> None:
    spans = SpanGrouper({"solver": RoleSpec()}, prefix="w")
    samples, episode = _episode(2, 0)
    record, ready = spans.add(samples, episode)
    assert not spans.active and ready == samples and record == episode
