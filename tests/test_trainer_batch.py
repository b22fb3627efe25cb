"""Collation: packed samples become aligned, padded tensors, read straight from the wire bytes."""

from __future__ import annotations

import warnings

import pytest
import torch

from sparring.bus._codec import decode, encode
from sparring.messages import Role, Sample
from sparring.trainer.batch import collate


def _sample(prompt: list[int], completion: list[int], mask: list[int] | None = None) -> Sample:
    return Sample(
        run="r",
        game="g",
        role=Role.SOLVER,
        episode_id="e",
        group_id="g",
        group_size=2,
        prompt_ids=prompt,
        completion_ids=completion,
        logprobs=[-0.5 - i for i in range(len(completion))],
        loss_mask=mask if mask is not None else [1] * len(completion),
        policy_version=0,
    )


def test_rows_are_right_padded_and_each_window_position_predicts_its_completion_token() -> None:
    short = _sample([11, 12], [21, 22, 23], mask=[1, 0, 1])
    long = _sample([31, 32, 33], [41, 2**31 - 1])
    ragged = _sample([51, 52], [61])
    batch = collate([short, long, ragged], [1.0, -1.0, 0.5], pad_id=-1)
    assert batch.input_ids.dtype == torch.int64 and batch.targets.dtype == torch.int64
    assert batch.input_ids.tolist() == [
        [11, 12, 21, 22, 23],
        [31, 32, 33, 41, 2**31 - 1],
        [51, 52, 61, -1, -1],
    ]
    assert batch.attention_mask.tolist() == [[1] * 5, [1] * 5, [1, 1, 1, 0, 0]]
    # The window opens at the last token of the shortest prompt (position 1): 3 positions.
    assert batch.logits_to_keep == 3 + 1
    assert batch.targets.tolist() == [[21, 22, 23], [33, 41, 2**31 - 1], [61, -1, -1]]
    assert batch.loss_mask.tolist() == [[1, 0, 1], [0, 1, 1], [1, 0, 0]]
    assert batch.behaviour_logprobs.tolist() == [[-0.5, -1.5, -2.5], [0, -0.5, -1.5], [-0.5, 0, 0]]
    assert batch.advantages.tolist() == [1.0, -1.0, 0.5]
    assert batch.n_tokens == 5


def test_samples_read_from_the_wire_collate_the_same_without_a_warning() -> None:
    samples = [_sample([1, 2, 3], [4, 5, 6, 7], mask=[1, 1, 0, 1]), _sample([8], [9])]
    wired = [decode(encode(s), Sample) for s in samples]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch.frombuffer on read-only bytes would warn
        batch = collate(wired, [0.5, 0.25])
    expected = collate(samples, [0.5, 0.25])
    for name in ("input_ids", "attention_mask", "targets", "behaviour_logprobs", "loss_mask"):
        assert torch.equal(getattr(batch, name), getattr(expected, name)), name


def test_the_batch_owns_its_memory_so_a_step_cannot_write_into_a_sample() -> None:
    s = decode(encode(_sample([1, 2], [3, 4])), Sample)
    batch = collate([s], [1.0])
    batch.input_ids.add_(100)
    batch.loss_mask.zero_()
    assert s.prompt_ids.tolist() == [1, 2] and s.loss_mask.tolist() == [1, 1]


def test_an_empty_completion_is_padding_and_an_empty_prompt_is_refused() -> None:
    batch = collate([_sample([1, 2], []), _sample([1], [5])], [0.0, 1.0])
    assert batch.loss_mask.tolist() == [[0], [1]]
    with pytest.raises(ValueError, match="empty prompt"):
        collate([_sample([], [1])], [1.0])
