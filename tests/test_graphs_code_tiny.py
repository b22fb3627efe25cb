"""Whole code episodes with the tiny real model and the real sandbox: exact trainable samples
for the proposers and solvers of both task types, and the held-out evaluation."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparring.graphs import Policies, Task, load_game, play_episode
from sparring.graphs.code import CodeConfig, proposer_role
from sparring.policy import SamplingParams, ScriptedPolicy
from sparring.policy.tiny import build_tiny_model
from sparring.policy.transformers_backend import TransformersPolicy

GAME = load_game("code")
CFG = CodeConfig(n_solvers=3, eval_programs=2, solver=SamplingParams(max_new_tokens=12))
HONEST = "def f(x):\n    x = (x + 3) % 10\n    return x\ninput: 4"


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransformersPolicy]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    model_dir = build_tiny_model(Path(tmp_path_factory.mktemp("tiny")))
    yield TransformersPolicy(model_dir, device="cpu")
    torch.set_num_threads(threads)


@pytest.mark.parametrize("task_type", ["deduction", "abduction"])
async def test_code_episodes_on_the_tiny_model_produce_exact_trainable_samples(
    policy: TransformersPolicy, task_type: str
) -> None:
    # The untrained model writes no valid program; a scripted proposer in half the episodes
    # makes sure the real model also plays the solvers.
    honest = ScriptedPolicy(lambda m: HONEST)
    overrides = {proposer_role(task_type): honest}  # type: ignore[arg-type]
    graphs = [
        GAME.build(Policies(default=policy), CFG),
        GAME.build(Policies(default=policy, overrides=overrides), CFG),
    ]
    task = Task(run="t", game="code", params={"type": task_type, "difficulty": 1})
    outcomes = await asyncio.gather(
        *(play_episode(GAME, graphs[i % 2], task, CFG) for i in range(4))
    )
    for i, outcome in enumerate(outcomes):
        assert outcome.ok, outcome.episode.errors
        turns = {t.sample_id: t for t in outcome.episode.turns}
        for sample in outcome.samples:
            turn = turns[sample.id]
            assert sample.prompt_ids.tolist() == policy.render(turn.messages)
            assert policy.decode(sample.completion_ids.tolist()) == turn.completion
            assert all(math.isfinite(lp) and lp <= 0 for lp in sample.logprobs.tolist())
        roles = [s.role for s in outcome.samples]
        if i % 2:  # scripted proposer: three real solver samples in one group
            assert roles == [f"solver_{task_type}"] * 3
            assert {s.group_size for s in outcome.samples} == {3}
        else:  # the untrained proposer's program is invalid: its penalty, no solver
            assert roles == [f"proposer_{task_type}"]
            assert outcome.samples[0].reward == CFG.format_penalty


async def test_the_tiny_model_is_evaluated_per_type_and_level(policy: TransformersPolicy) -> None:
    figures = await GAME.evaluate(policy, CFG)
    assert {"acc_greedy/deduction/d3", "acc_sampled/abduction/d1"} <= set(figures)
    assert all(0.0 <= v <= 1.0 for v in figures.values())
