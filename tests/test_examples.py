"""The example game (examples/guess_number) loads from its file and plays end to end."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from sparring.cli import main
from sparring.graphs import Game, Policies, load_game, play_episode
from sparring.messages import ChatMessage, Role, Task
from sparring.policy import ScriptedPolicy

GAME_FILE = Path(__file__).resolve().parents[1] / "examples" / "guess_number" / "game.py"


def _bisect(messages: list[ChatMessage]) -> str:
    """A scripted player that binary-searches using the conversation so far."""
    low, high = map(int, re.findall(r"\d+", messages[0].content))
    for guess, answer in zip(messages[1::2], messages[2::2], strict=True):
        if answer.content == "higher":
            low = int(guess.content) + 1
        elif answer.content == "lower":
            high = int(guess.content) - 1
    return str((low + high) // 2)


@pytest.fixture(scope="module")
def game() -> Game:
    return load_game(str(GAME_FILE))


async def test_the_example_game_is_found_in_its_file(game: Game) -> None:
    assert game.name == "guess_number"
    assert load_game(str(GAME_FILE)) is game  # loaded once, not re-executed


@pytest.mark.parametrize("secret", [0, 17, 31])
async def test_a_binary_searching_player_finds_the_secret(game: Game, secret: int) -> None:
    cfg = game.config_model()
    graph = game.build(Policies(default=ScriptedPolicy(_bisect, version=2)), cfg)
    outcome = await play_episode(
        game, graph, Task(run="t", game=game.name, params={"secret": secret}), cfg
    )
    episode = outcome.episode
    assert outcome.ok and episode.stats["found"] == 1.0
    turns = int(episode.stats["turns"])
    assert 1 <= turns <= 6
    assert [p.node for p in episode.path] == ["guess", "check"] * turns
    assert [t.role for t in episode.turns] == [Role.SOLVER] * turns
    assert episode.turns[-1].completion == str(secret)
    assert len(episode.turns[-1].messages) == 2 * turns - 1  # the conversation grew each turn
    assert len(outcome.samples) == turns and all(s.group_size == 1 for s in outcome.samples)
    assert [s.reward for s in outcome.samples] == pytest.approx([1 - (turns - 1) / 6] * turns)
    assert {s.policy_version for s in outcome.samples} == {2}


async def test_a_player_that_never_answers_a_number_runs_out_of_turns(game: Game) -> None:
    cfg = game.config_model()
    graph = game.build(Policies(default=ScriptedPolicy(lambda m: "hmm")), cfg)
    outcome = await play_episode(
        game, graph, Task(run="t", game=game.name, params={"secret": 3}), cfg
    )
    assert outcome.episode.stats == {"found": 0.0, "turns": 6.0}
    assert {s.reward for s in outcome.samples} == {0.0} and len(outcome.samples) == 6
    assert outcome.episode.turns[-1].messages[-1].content == "invalid"


async def test_the_example_task_source_and_demonstrations_agree_with_the_rules(game: Game) -> None:
    cfg = game.config_model()
    source = game.task_source(cfg, seed=1)
    assert all(0 <= int(str(source.next_params()["secret"])) <= 31 for _ in range(50))
    rng = random.Random(0)
    for _ in range(100):
        messages, completion = game.demonstrations(rng, cfg)
        assert messages[-1].role == "user" and completion == _bisect(messages)


def test_sparring_graph_draws_the_example_loop(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(GAME_FILE)]) == 0
    out = capsys.readouterr().out
    assert "graph TD;" in out and "check -.-> guess;" in out and "guess --> check;" in out


REVERSE_FILE = GAME_FILE.parents[1] / "reverse" / "game.py"


def _reverser(messages: list[ChatMessage]) -> str:
    """Proposes '1234' cut to n digits (n > 4 gets junk); reverses only strings starting with 1."""
    words = messages[-1].content.split()
    if words[0] == "write":
        return "1234"[: int(words[1])] if int(words[1]) <= 4 else "12x"
    return words[1][::-1] if words[1].startswith("1") else words[1]


async def test_the_minimal_proposer_solver_game_pays_both_roles_by_its_rules() -> None:
    game = load_game(str(REVERSE_FILE))
    cfg = game.config_model()
    graph = game.build(Policies(default=ScriptedPolicy(_reverser)), cfg)
    valid = await play_episode(game, graph, Task(run="t", game="reverse", params={"n": 3}), cfg)
    solvers = [s for s in valid.samples if s.role == "solver"]
    (proposer,) = [s for s in valid.samples if s.role == "proposer"]
    assert valid.ok and len(solvers) == 4 and {s.reward for s in solvers} == {1.0}
    # The roles' declared grouping made the groups: 4 solvers together, the proposer alone.
    assert {s.group_size for s in solvers} == {4} and len({s.group_id for s in solvers}) == 1
    assert proposer.reward == 0.0 and proposer.group_size == 1
    junk = await play_episode(game, graph, Task(run="t", game="reverse", params={"n": 6}), cfg)
    assert [(s.role, s.reward) for s in junk.samples] == [("proposer", -1.0)]
    assert all(1 <= int(str(game.task_source(cfg, 3).next_params()["n"])) <= 6 for _ in range(9))
