"""The supervised warm-up on the real tiny model: it learns, it saves, and it refuses bad input."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from sparring.errors import ConfigError, PolicyError
from sparring.messages import ChatMessage
from sparring.policy.tiny import build_tiny_model
from sparring.policy.warmup import _POOL_BATCHES, Example, _batches, warm_up

MEMORISED: list[Example] = [
    ([ChatMessage(role="user", content=f"compute {e}")], pad)
    for e, pad in [("3+4-2", "3+4=7,7-2=5"), ("5+8", "5+8=3"), ("9-9+1", "9-9=0,0+1=1")]
]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    torch.set_num_threads(1)  # two cores shared by the whole suite: more threads only thrash
    return build_tiny_model(tmp_path / "tiny")


def _greedy(model_dir: Path, messages: list[ChatMessage]) -> str:
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    enc = tokenizer.apply_chat_template(
        [m.model_dump() for m in messages],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**enc, max_new_tokens=16, do_sample=False)
    return str(tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True))


def test_warm_up_memorises_a_tiny_set_and_the_saved_model_reproduces_it(tiny: Path) -> None:
    before = [_greedy(tiny, messages) for messages, _ in MEMORISED]
    # A step cap, not a time budget, decides how far it gets: the CPU is shared.
    report = warm_up(tiny, MEMORISED, seconds=120, batch_size=16, progress=False, max_steps=150)

    assert report.steps == 150
    assert report.stopped_by == "max_steps"
    assert report.examples_seen == 150 * 16
    # With label smoothing 0.1 the loss floors near 1, not 0: halving it is memorising.
    assert report.final_loss < report.first_loss / 2
    after = [_greedy(tiny, messages) for messages, _ in MEMORISED]
    assert after == [completion for _, completion in MEMORISED], (before, after)


def test_a_generator_is_drawn_from_once_per_example_with_the_seeded_rng(tiny: Path) -> None:
    draws: list[int] = []

    def draw(rng: random.Random) -> Example:
        a = rng.randint(0, 9)
        draws.append(a)
        return [ChatMessage(role="user", content=f"compute {a}+1")], f"{a}+1={(a + 1) % 10}"

    report = warm_up(tiny, draw, seconds=0.01, batch_size=4, progress=False)
    assert report.stopped_by == "time"
    first = list(draws)
    draws.clear()
    warm_up(tiny, draw, seconds=0.01, batch_size=4, progress=False)

    assert report.steps >= 1
    # Drawn a length-sorting pool ahead: whole pools of _POOL_BATCHES batches, none wasted.
    pools = -(-report.steps // _POOL_BATCHES)
    assert len(first) == pools * _POOL_BATCHES * 4 >= report.examples_seen
    assert draws[: len(first)] == first  # same seed, same examples


def test_batches_group_examples_of_like_length_and_use_each_drawn_example_once() -> None:
    lengths = iter(range(10_000))

    def encode(example: Example) -> tuple[list[int], list[bool]]:
        n = len(example[1])
        return [next(lengths)] * n, [True] * n  # the first id tells examples apart

    def draw(rng: random.Random) -> Example:
        return [], "x" * rng.randint(1, 300)

    batches = _batches(draw, random.Random(0), 8, encode)
    pool = [next(batches) for _ in range(_POOL_BATCHES)]
    rows = [row for batch in pool for row in batch]
    assert len({ids[0] for ids, _ in rows}) == 8 * _POOL_BATCHES  # each drawn example once
    spans = sorted((min(len(i) for i, _ in b), max(len(i) for i, _ in b)) for b in pool)
    assert all(hi <= lo for (_, hi), (lo, _) in itertools.pairwise(spans))  # no overlap
    padded = sum(8 * hi for _, hi in spans)
    assert padded < 1.3 * sum(len(i) for i, _ in rows)  # unsorted, ~1.9x (max of 8 uniform)


def test_until_is_asked_every_check_every_steps_and_ends_the_pass(tiny: Path) -> None:
    asked: list[tuple[bool, bool]] = []

    def ready(model: Any, tokenizer: Any) -> bool:
        asked.append((model.training, tokenizer.chat_template is not None))
        return len(asked) == 2

    report = warm_up(
        tiny, MEMORISED, seconds=120, batch_size=4, progress=False, until=ready, check_every=3
    )

    assert report.stopped_by == "until"
    assert report.steps == 6
    assert asked == [(False, True), (False, True)]  # eval mode, and the model's own tokenizer


def test_a_budget_that_is_not_positive_is_refused_before_loading(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="seconds"):
        warm_up(tmp_path, MEMORISED, seconds=0)


def test_a_step_cap_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="max_steps"):
        warm_up(tmp_path, MEMORISED, seconds=1, max_steps=0)


def test_an_empty_example_set_is_refused(tiny: Path) -> None:
    with pytest.raises(ConfigError, match="examples"):
        warm_up(tiny, [], seconds=1, progress=False)


def test_a_folder_without_a_model_gets_a_policy_error_saying_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="init-model"):
        warm_up(tmp_path, MEMORISED, seconds=1, progress=False)


def _double_game(ready: bool) -> Any:
    from pydantic import BaseModel, Field

    from sparring.graphs.game import Game, Readiness

    class Cfg(BaseModel):
        level: int = 1
        mode: str = Field("play", json_schema_extra={"warmup": False})

    def demo(rng: random.Random, cfg: Any) -> Example:
        a = rng.randint(0, 9)
        return [ChatMessage(role="user", content=f"Double {a}.")], str(2 * a)

    async def check(policy: Any, cfg: Any) -> Readiness:
        return Readiness(ready=ready, figures={"acc": 1.0 if ready else 0.1}, needs={"acc": 0.5})

    return Game(
        name="double",
        config_model=Cfg,
        build=lambda policies, cfg: None,  # type: ignore[arg-type,return-value]
        score=lambda state, calls, cfg: None,  # type: ignore[arg-type,return-value]
        task_source=lambda cfg, seed: None,  # type: ignore[arg-type,return-value]
        demonstrations=demo,
        ready=check,
    )


def test_runs_that_differ_only_in_a_field_the_warm_up_does_not_read_share_one_model() -> None:
    from sparring.config import PolicyConfig
    from sparring.model_cache import _key

    game, policy = _double_game(True), PolicyConfig()
    base = _key(policy, game, game.config_model())
    assert _key(policy, game, game.config_model(mode="baseline")) == base
    assert _key(policy, game, game.config_model(level=2)) != base


@pytest.mark.parametrize("passes", [False, True])
def test_only_a_warm_up_that_passed_the_readiness_check_is_cached_for_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, passes: bool
) -> None:
    from sparring.config import PolicyConfig
    from sparring.model_cache import ensure_model

    torch.set_num_threads(1)
    monkeypatch.setenv("SPARRING_CACHE", str(tmp_path / "cache"))
    policy = PolicyConfig(warmup_max_steps=2, warmup_check_every=1)
    game = _double_game(passes)
    said: list[str] = []
    first = ensure_model(policy, game, game.config_model(), said.append)
    second = ensure_model(policy, game, game.config_model(), said.append)

    # Each check says where the warm-up stands (the game's check reports its figures).
    verdict = "acc 1.00 (needs 0.50): ready" if passes else "acc 0.10 (needs 0.50): not yet"
    assert f"model: readiness at step 1: {verdict}" in said, said
    if passes:
        assert first == second and not any("warning" in s for s in said)
        assert any("cached tiny model" in s for s in said)
    else:
        assert first.endswith(".unready") and second.endswith(".unready")
        warnings = [s for s in said if "warning" in s]
        assert len(warnings) == 2 and "Not cached" in warnings[0], said
        assert not any("cached tiny model" in s for s in said)  # built again, never reused
    assert (Path(second) / "config.json").exists()


def test_without_a_terminal_the_warm_up_prints_plain_progress_lines_throughout(
    tiny: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sparring.policy.warmup as warmup

    monkeypatch.setattr(warmup, "_PLAIN_EVERY_S", 0.0)  # a line every step, not every 5 s
    warm_up(tiny, MEMORISED, seconds=120, batch_size=4, progress=True, max_steps=5)
    lines = capsys.readouterr().out.splitlines()  # captured: not a terminal
    assert [line.split(",")[0] for line in lines] == [f"warm-up: {n} steps" for n in range(1, 6)]
    assert all("loss " in s and " s elapsed" in s and " s left" in s for s in lines), lines
    assert lines[-1].endswith("at most ~0 s left")  # the step cap reached: nothing left


def test_a_completion_in_segments_learns_its_own_text_and_not_the_tool_output(tiny: Path) -> None:
    from sparring.policy.warmup import _collate, _encode
    from sparring.roles.tool_loop import demonstration_segments

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    end = tokenizer.eos_token_id
    messages = [ChatMessage(role="user", content="who founded it")]
    text = "<search>Orun</search><result>[Orun] Varo founded Orun.</result><answer>Varo</answer>"
    segments = demonstration_segments(text)
    assert segments == [
        ("<search>Orun</search>", True),
        ("<result>[Orun] Varo founded Orun.</result>", False),
        ("<answer>Varo</answer>", True),
    ]
    ids, learned = _encode(tokenizer, (messages, segments), end)
    prompt = tokenizer.apply_chat_template(
        [m.model_dump() for m in messages], add_generation_prompt=True, return_dict=False
    )
    # Each segment encoded on its own, as the tool loop appends a tool's output.
    pieces = [tokenizer.encode(t, add_special_tokens=False) for t, _ in segments]
    assert ids == [*prompt, *pieces[0], *pieces[1], *pieces[2], end]
    n0, n1 = len(prompt) + len(pieces[0]), len(prompt) + len(pieces[0]) + len(pieces[1])
    _, labels, _ = _collate([(ids, learned)], end, torch.device("cpu"))
    row = labels[0].tolist()
    assert all(x == -100 for x in row[: len(prompt)])  # the prompt is given
    assert row[len(prompt) : n0] == ids[len(prompt) : n0]  # the search is learned
    assert all(x == -100 for x in row[n0:n1])  # the result is given
    assert row[n1:] == ids[n1:]  # the answer and the end token are learned
    # A plain text completion is one learned segment.
    assert _encode(tokenizer, (messages, "Varo"), end)[1][len(prompt) :] == [True] * (
        len(tokenizer.encode("Varo", add_special_tokens=False)) + 1
    )


def test_a_result_block_left_open_in_a_demonstration_is_refused() -> None:
    from sparring.roles.tool_loop import demonstration_segments

    with pytest.raises(ValueError, match="without </result>"):
        demonstration_segments("<search>x</search><result>cut")
    assert demonstration_segments("<answer>7</answer>") == [("<answer>7</answer>", True)]
