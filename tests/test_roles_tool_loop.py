"""The tool loop on a scripted policy: every outcome, the mask, the tool calls, one episode."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypedDict

import torch
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, ConfigDict, JsonValue

from sparring.graphs import EpisodeOutcome, Game, Payout, Policies, Scoring, play_episode
from sparring.messages import ChatMessage, Role, Sample, Task
from sparring.policy import SamplingParams, ScriptedPolicy, TransformersPolicy, build_tiny_model
from sparring.policy.tiny import load_model
from sparring.roles import Call, ToolLoopResult, parse_turn, run_tool_loop
from sparring.tools.output import ToolOutput
from sparring.trainer.batch import collate
from sparring.trainer.step import token_logprobs

PARAMS = SamplingParams(max_new_tokens=64)
ASK = [ChatMessage(role="user", content="what is 2+3?")]


def _replies(*texts: str) -> Callable[[list[ChatMessage]], str]:
    """A script answering the i-th generate call with texts[i] (then the last one forever)."""
    counter = itertools.count()
    return lambda _messages: texts[min(next(counter), len(texts) - 1)]


def _calc(expression: str) -> str:
    left, right = expression.split("+")
    return str(int(left) + int(right))


async def _run(
    *texts: str, version: int = 0, **kwargs: Any
) -> tuple[ScriptedPolicy, ToolLoopResult]:
    policy = ScriptedPolicy(_replies(*texts), version=version)
    tools = kwargs.pop("tools", {"calc": _calc})
    return policy, await run_tool_loop(policy, "solver", ASK, tools, PARAMS, **kwargs)


def _enc(text: str) -> list[int]:
    return [b + 4 for b in text.encode()]


async def test_a_call_then_an_answer_splices_the_tool_output_and_masks_it() -> None:
    policy, result = await _run("<calc>2+3</calc>", "<answer>5</answer>")
    assert (result.outcome, result.answer, result.turns) == ("answer", "5", 2)
    gen = result.call.generation
    tool = _enc("<result>5</result>")
    assert gen.completion_ids == _enc("<calc>2+3</calc>") + tool + _enc("<answer>5</answer>")
    assert gen.text == "<calc>2+3</calc><result>5</result><answer>5</answer>"
    n1, nt, n2 = len("<calc>2+3</calc>"), len(tool), len("<answer>5</answer>")
    assert result.call.mask() == [1] * n1 + [0] * nt + [1] * n2
    assert gen.logprobs == [-0.5] * n1 + [0.0] * nt + [-0.5] * n2
    # The second turn was fed the exact ids: prompt + first segment + tool output.
    assert policy.calls[1][0].content == policy.decode(
        gen.prompt_ids + gen.completion_ids[: n1 + nt]
    )
    [call] = result.call.tool_calls
    assert (call.name, call.arguments, call.result, call.error) == (
        "calc",
        {"input": "2+3"},
        "5",
        None,
    )
    assert result.call.parsed == {"outcome": "answer", "answer": "5", "turns": 2, "reason": ""}


async def test_an_async_tool_runs_like_a_sync_one() -> None:
    async def calc(expression: str) -> str:
        return _calc(expression)

    _, result = await _run("<calc>1+1</calc>", "<answer>2</answer>", tools={"calc": calc})
    assert result.outcome == "answer" and result.call.tool_calls[0].result == "2"


async def test_a_tool_output_s_data_is_recorded_and_only_its_text_reaches_the_model() -> None:
    def calc(expression: str) -> ToolOutput:
        return ToolOutput(_calc(expression), {"operands": expression.split("+")})

    _, result = await _run("<calc>2+3</calc>", "<answer>5</answer>", tools={"calc": calc})
    [call] = result.call.tool_calls
    assert (call.result, call.data) == ("5", {"operands": ["2", "3"]})
    assert result.call.text == "<calc>2+3</calc><result>5</result><answer>5</answer>"


async def test_a_tool_returning_neither_text_nor_tool_output_is_an_error_the_model_reads() -> None:
    _, result = await _run("<calc>1+1</calc>", "<answer>2</answer>", tools={"calc": lambda x: 2})
    [call] = result.call.tool_calls
    assert call.error is not None and "not str or ToolOutput" in call.error
    assert call.data == {}


async def test_a_raising_tool_returns_its_error_to_the_model_and_the_loop_goes_on() -> None:
    _, result = await _run("<calc>2*3</calc>", "<answer>6</answer>")
    assert result.outcome == "answer"
    [call] = result.call.tool_calls
    assert call.error is not None and call.error.startswith("ValueError")
    assert call.result == f"error: {call.error}"
    assert f"<result>error: {call.error}</result>" in result.call.text


async def test_an_unknown_tool_ends_the_loop_with_unknown_tool() -> None:
    _, result = await _run("<search>x</search>")
    assert (result.outcome, result.answer, result.turns) == ("unknown_tool", None, 1)
    assert result.call.tool_calls == [] and "search" in result.reason


async def test_malformed_calls_end_with_malformed_and_say_why() -> None:
    for text, why in [
        ("<calc>2+3", "never closed"),
        ("2+3</calc>", "stray closing tag"),
        ("<calc>  </calc>", "empty arguments"),
    ]:
        _, result = await _run(text)
        assert result.outcome == "malformed" and why in result.reason, text
        assert result.call.mask() == [1] * len(text.encode())


async def test_a_turn_with_no_call_and_no_answer_ends_with_no_call() -> None:
    _, result = await _run("five")
    assert (result.outcome, result.answer) == ("no_call", None)


async def test_the_turn_limit_ends_a_model_that_keeps_calling_tools() -> None:
    _, result = await _run("<calc>1+1</calc>", max_turns=3)
    assert (result.outcome, result.turns, len(result.call.tool_calls)) == ("max_turns", 3, 2)


async def test_the_token_budget_counts_tool_output_and_is_never_exceeded() -> None:
    # 17 generated + 19 tool tokens: with a budget of 40 the next turn has 4 tokens left.
    _, result = await _run("<calc>12+3</calc>", "<answer>15</answer>", budget=40)
    assert result.outcome == "budget" and result.call.generation.finish_reason == "length"
    assert len(result.call.generation.completion_ids) == 40
    # A tool result that does not fit is not spliced in.
    _, result = await _run("<calc>12+3</calc>", budget=20)
    assert result.outcome == "budget" and len(result.call.generation.completion_ids) == 17


async def test_the_model_context_bounds_prompt_and_completion() -> None:
    policy, result = await _run("<calc>1+1</calc>", "<answer>2</answer>", context=0)
    assert result.outcome == "budget" and result.turns == 0
    prompt = len(policy.render(ASK))
    _, result = await _run("<calc>1+1</calc>", "<answer>2</answer>", context=prompt + 20)
    assert result.outcome == "budget"
    assert (
        len(result.call.generation.prompt_ids) + len(result.call.generation.completion_ids)
        <= prompt + 20
    )


async def test_the_trajectory_carries_the_oldest_version_of_its_segments() -> None:
    policy = ScriptedPolicy(_replies("<calc>1+1</calc>", "<answer>2</answer>"), version=3)

    def calc(expression: str) -> str:
        policy.set_version(4)  # a reload between turns
        return _calc(expression)

    result = await run_tool_loop(policy, "solver", ASK, {"calc": calc}, PARAMS)
    assert result.outcome == "answer" and result.call.generation.policy_version == 3


def test_parse_turn_reads_the_first_tag_only() -> None:
    assert parse_turn("think <calc>1+2</calc> more").arguments == "1+2"
    assert parse_turn("<answer> 7 </answer>").kind == "answer"
    assert parse_turn("no tags").kind == "none"


# A tiny game: one solver node that runs the tool loop, paid 1 when it answers 5.


class _Cfg(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _State(TypedDict, total=False):
    answer: str | None


def _build(policies: Policies, cfg: _Cfg) -> Any:
    solver = policies.for_role(Role.SOLVER)

    async def solve(state: _State) -> dict[str, Any]:
        result = await run_tool_loop(solver, Role.SOLVER, ASK, {"calc": _calc}, PARAMS)
        return {"answer": result.answer}

    graph = StateGraph(_State)
    graph.add_node("solve", solve)
    graph.add_edge(START, "solve")
    graph.add_edge("solve", END)
    return graph.compile()


def _score(state: dict[str, Any], calls: Sequence[Call], cfg: _Cfg) -> Scoring:
    reward = 1.0 if state["answer"] == "5" else 0.0
    return Scoring(
        payouts=[Payout(call_id=c.id, reward=reward, reason="answered 5", group="g") for c in calls]
    )


class _Source:
    def __init__(self, cfg: _Cfg, seed: int = 0) -> None:
        pass

    def next_params(self) -> dict[str, JsonValue]:
        return {}

    def observe(self, outcome: EpisodeOutcome) -> None:
        pass


GAME = Game(
    name="toolcalc",
    description="one tool-using solver step",
    config_model=_Cfg,
    build=_build,
    start=lambda task, cfg: {},
    score=_score,
    task_source=_Source,
)


async def test_an_episode_of_a_tool_game_trains_one_sample_masked_at_the_tool_tokens() -> None:
    policy = ScriptedPolicy(_replies("<calc>2+3</calc>", "<answer>5</answer>"))
    cfg = _Cfg()
    graph = GAME.build(Policies(default=policy), cfg)
    outcome = await play_episode(GAME, graph, Task(run="t", game="toolcalc"), cfg, worker="w0")
    [sample] = outcome.samples
    n1, nt = len("<calc>2+3</calc>"), len("<result>5</result>")
    mask = [int(b) for b in sample.loss_mask]
    assert [i for i, m in enumerate(mask) if m == 0] == list(range(n1, n1 + nt))
    assert sample.reward == 1.0 and len(mask) == len(sample.completion_ids)
    [turn] = outcome.episode.turns
    assert [(t.name, t.result) for t in turn.tool_calls] == [("calc", "5")]


# The tiny real model: a taught 3-turn calc trajectory whose logprobs the trainer reproduces.

TRAJECTORY = ["<calc>1+2</calc>", "<result>3</result>", "<calc>3+4</calc>", "<result>7</result>"]


def _taught_tiny_model(tmp_path: Path) -> Any:
    """The tiny model after a few hand-written optimizer steps on one tool-call demonstration,
    tokenised exactly as the loop feeds it (each segment encoded on its own)."""
    torch.manual_seed(0)
    model, tokenizer = load_model(build_tiny_model(tmp_path, seed=0), device="cpu")
    policy = TransformersPolicy(model, tokenizer)
    ids = policy.render(ASK)
    prompt_len = len(ids)
    for segment in [*TRAJECTORY, "<answer>7</answer>"]:
        ids += policy.encode(segment)
    ids.append(tokenizer.eos_token_id)
    x = torch.tensor([ids])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(120):
        logits = model(input_ids=x).logits[0, prompt_len - 1 : -1]
        loss = torch.nn.functional.cross_entropy(logits, x[0, prompt_len:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if loss.item() < 0.01:
            break
    model.eval()
    return model, tokenizer


async def test_a_real_model_three_turn_trajectory_records_the_logprobs_the_trainer_computes(
    tmp_path: Path,
) -> None:
    torch.set_num_threads(2)
    model, tokenizer = _taught_tiny_model(tmp_path)
    policy = TransformersPolicy(model, tokenizer)
    try:
        result = await run_tool_loop(
            policy,
            "solver",
            ASK,
            {"calc": _calc},
            SamplingParams(max_new_tokens=24, temperature=0),
            context=model.config.max_position_embeddings,
        )
    finally:
        await policy.aclose()
    assert (result.outcome, result.answer, result.turns) == ("answer", "7", 3)
    assert [(c.arguments["input"], c.result) for c in result.call.tool_calls] == [
        ("1+2", "3"),
        ("3+4", "7"),
    ]
    gen, mask = result.call.generation, result.call.mask()
    assert mask.count(0) == sum(len(policy.encode(s)) for s in TRAJECTORY[1::2])
    sample = Sample(
        run="t",
        game="g",
        role="solver",
        episode_id="e",
        group_id="e/g",
        group_size=1,
        prompt_ids=gen.prompt_ids,
        completion_ids=gen.completion_ids,
        logprobs=gen.logprobs,
        loss_mask=mask,
        policy_version=gen.policy_version,
        finish_reason=gen.finish_reason,
    )
    batch = collate([sample], [1.0], pad_id=tokenizer.pad_token_id)
    with torch.no_grad():
        logp, _ = token_logprobs(model, batch)
    trained = batch.loss_mask.bool()
    assert int(trained.sum()) == mask.count(1)
    assert torch.allclose(logp[trained], batch.behaviour_logprobs[trained], atol=1e-4)
    assert torch.all(batch.behaviour_logprobs[~trained] == 0)
