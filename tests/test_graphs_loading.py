"""load_game finds games by name, file and module:attr; the game CLI; the API's guard rails."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from sparring.cli import main
from sparring.errors import GameError
from sparring.graphs import Game, Policies, Scoring, load_game, play_episode
from sparring.graphs.arith import ArithConfig
from sparring.messages import Task
from sparring.policy import ScriptedPolicy

# A minimal one-node game, as a user would write it in a file.
USER_GAME = """
from typing import Any, TypedDict
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, ConfigDict
from sparring.graphs import Game, Payout, Scoring
from sparring.messages import ChatMessage, Role
from sparring.policy import SamplingParams

class EchoConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    word: str = "hello"

class State(TypedDict, total=False):
    said: str

def build(policies, cfg):
    solver = policies.for_role(Role.SOLVER)
    async def say(state):
        prompt = [ChatMessage(role="user", content="say it")]
        return {"said": (await solver.generate(prompt, SamplingParams())).text}
    g = StateGraph(State)
    g.add_node("say", say)
    g.add_edge(START, "say")
    g.add_edge("say", END)
    return g.compile()

def score(state, calls, cfg):
    return Scoring(payouts=[
        Payout(call_id=c.id, reward=float(state["said"] == cfg.word), reason="echo", group="x")
        for c in calls
    ])

class Source:
    def __init__(self, cfg, seed=0): pass
    def next_params(self): return {}
    def observe(self, outcome): pass

{name} = Game(name="echo", description="say the word", config_model=EchoConfig,
              build=build, score=score, task_source=Source)
"""


def _write(tmp_path: Path, text: str, name: str = "echo_game.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_built_in_game_loads_by_name() -> None:
    game = load_game("arith")
    assert game.name == "arith" and game.config_model is ArithConfig
    assert game.config_model.model_validate({"n_solvers": 3}) == ArithConfig(n_solvers=3)


@pytest.mark.parametrize("attr", ["game", "my_echo_game"])
def test_a_game_loads_from_a_file(tmp_path: Path, attr: str) -> None:
    game = load_game(str(_write(tmp_path, USER_GAME.replace("{name}", attr))))
    assert game.name == "echo" and game.description == "say the word"


def test_a_game_loads_from_module_and_attribute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, USER_GAME.replace("{name}", "echo"), "user_games_mod.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_game("user_games_mod:echo").name == "echo"
    with pytest.raises(GameError, match="has no attribute 'nope'"):
        load_game("user_games_mod:nope")
    with pytest.raises(GameError, match=r"not a sparring\.graphs\.Game but the class EchoConfig"):
        load_game("user_games_mod:EchoConfig")
    with pytest.raises(GameError, match="cannot import 'no_such_module_xyz'"):
        load_game("no_such_module_xyz:game")


async def test_a_user_game_from_a_file_plays_and_pays_its_calls(tmp_path: Path) -> None:
    game = load_game(str(_write(tmp_path, USER_GAME.replace("{name}", "game"))))
    cfg = game.config_model()
    graph = game.build(Policies(default=ScriptedPolicy(lambda m: "hello")), cfg)
    outcome = await play_episode(game, graph, Task(run="t", game="echo"), cfg)
    (sample,) = outcome.samples
    assert sample.reward == 1.0 and outcome.episode.turns[0].node == "say"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = 1\n", "holds no Game"),
        (USER_GAME.replace("{name}", "a") + USER_GAME.replace("{name}", "b"), "holds 2 Games"),
        ("raise RuntimeError('oops')\n", "failed: RuntimeError: oops"),
    ],
)
def test_a_file_without_exactly_one_game_is_refused_clearly(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text, f"bad_{abs(hash(text))}.py")
    with pytest.raises(GameError, match=message):
        load_game(str(path))


def test_an_unknown_name_or_missing_file_is_refused_clearly() -> None:
    with pytest.raises(GameError, match="built-in games are arith"):
        load_game("chess")
    with pytest.raises(GameError, match="does not exist"):
        load_game("no/such/game.py")


def _game(**overrides: Any) -> Game:
    base: dict[str, Any] = dict(
        name="g",
        description="d",
        config_model=ArithConfig,
        build=lambda policies, cfg: object(),
        score=lambda state, calls, cfg: Scoring(),
        task_source=lambda cfg, seed: None,
    )
    return Game(**{**base, **overrides})


async def test_a_game_without_evaluation_or_demonstrations_says_so() -> None:
    game = _game()
    with pytest.raises(GameError, match="has no held-out evaluation"):
        await game.evaluate(ScriptedPolicy(lambda m: ""), ArithConfig())
    with pytest.raises(GameError, match="no demonstrations"):
        game.demonstrations(__import__("random").Random(0), ArithConfig())


def test_a_build_that_does_not_compile_its_graph_is_refused() -> None:
    with pytest.raises(GameError, match=r"return StateGraph\(...\).compile\(\)"):
        _game().build(Policies(default=ScriptedPolicy(lambda m: "")), ArithConfig())


async def test_reward_rules_that_pay_an_unknown_call_fail_the_episode(tmp_path: Path) -> None:
    from sparring.graphs import Payout

    arith = load_game("arith")
    bad = _game(
        build=lambda policies, cfg: arith.build(policies, cfg),
        start=lambda task, cfg: {"target": 1, "difficulty": 1},
        score=lambda state, calls, cfg: Scoring(
            payouts=[Payout(call_id="nope", reward=1.0, reason="r", group="x")]
        ),
    )
    cfg = ArithConfig()
    graph = bad.build(Policies(default=ScriptedPolicy(lambda m: "1+0")), cfg)
    outcome = await play_episode(bad, graph, Task(run="t", game="g"), cfg)
    assert outcome.samples == [] and "unknown call id" in outcome.episode.errors[0]


def test_sparring_graph_prints_the_arith_graph_as_mermaid(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["graph", "arith"]) == 0
    out = capsys.readouterr().out
    assert out.lstrip().startswith("---") and "graph TD;" in out
    for edge in ("propose --> verify;", "verify -.-> solve;", "verify -.-> __end__;"):
        assert edge in out


def test_sparring_games_lists_arith(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["games"]) == 0
    assert "arith" in capsys.readouterr().out


def test_sparring_graph_of_an_unknown_game_fails_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["graph", "chess"]) == 1
    assert "unknown game 'chess'" in capsys.readouterr().err
