"""A few arith episodes on the real tiny model: real tokens, real logprobs, real batching."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparring.graphs import Policies, load_game, play_episode
from sparring.graphs.arith import ArithConfig
from sparring.messages import Role, Task
from sparring.policy import SamplingParams, ScriptedPolicy
from sparring.policy.tiny import build_tiny_model
from sparring.policy.transformers_backend import TransformersPolicy

GAME = load_game("arith")
CFG = ArithConfig(n_solvers=4, eval_problems=4)


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransformersPolicy]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    model_dir = build_tiny_model(Path(tmp_path_factory.mktemp("tiny")))
    yield TransformersPolicy(model_dir, device="cpu")
    torch.set_num_threads(threads)


async def test_arith_episodes_on_the_tiny_model_produce_exact_trainable_samples(
    policy: TransformersPolicy,
) -> None:
    # The untrained model rarely writes a valid chain; a scripted (untrained) proposer
    # in half the episodes makes sure the real model also plays the solvers.
    honest = ScriptedPolicy(lambda m: "6+1=7,7-3=4")  # the problem 4+3-1
    graphs = [
        GAME.build(Policies(default=policy), CFG),
        GAME.build(Policies(default=policy, overrides={Role.PROPOSER: honest}), CFG),
    ]
    task = Task(run="t", game="arith", params={"target": 6, "difficulty": 2})
    outcomes = await asyncio.gather(
        *(play_episode(GAME, graphs[i % 2], task, CFG) for i in range(4))
    )
    assert policy.batches < sum(len(o.episode.turns) for o in outcomes)  # calls were batched
    for i, outcome in enumerate(outcomes):
        assert outcome.ok, outcome.episode.errors
        turns = {t.sample_id: t for t in outcome.episode.turns}
        for sample in outcome.samples:
            turn = turns[sample.id]
            assert sample.prompt_ids.tolist() == policy.render(turn.messages)
            assert policy.decode(sample.completion_ids.tolist()) == turn.completion
            assert all(math.isfinite(lp) and lp <= 0 for lp in sample.logprobs.tolist())
            assert sample.policy_version == 0 and sample.reward is not None
        if i % 2:  # scripted proposer: four real solver samples in one group, no proposer one
            assert [s.role for s in outcome.samples] == [Role.SOLVER] * 4
            assert {s.group_size for s in outcome.samples} == {4}


async def test_the_tiny_model_is_evaluated_per_level(policy: TransformersPolicy) -> None:
    cfg = CFG.model_copy(update={"solver": SamplingParams(max_new_tokens=12)})
    figures = await GAME.evaluate(policy, cfg)
    assert set(figures) >= {"acc_greedy/d1", "acc_sampled/d4", "acc_greedy", "acc_sampled"}
    assert all(0.0 <= v <= 1.0 for v in figures.values())
