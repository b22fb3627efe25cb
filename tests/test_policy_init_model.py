"""`sparring init-model` builds a loadable tiny model and warms it up on a game's demonstrations."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from sparring.cli import main

# Only `demonstrations` matters to init-model; the rest of the game is the minimum Game takes.
GAME_FILE = """
from pydantic import BaseModel, ConfigDict
from sparring.graphs.game import Game
from sparring.messages import ChatMessage


class Cfg(BaseModel):
    model_config = ConfigDict(frozen=True)


def demo(rng, cfg):
    a = rng.randint(0, 9)
    return [ChatMessage(role="user", content=f"Double {a}.")], str(2 * a)


game = Game(
    name="double",
    description="double a digit",
    config_model=Cfg,
    build=lambda policies, cfg: None,
    score=lambda state, calls, cfg: None,
    task_source=lambda cfg, seed: None,
    demonstrations=demo,
)
"""


def test_init_model_builds_a_folder_that_loads_and_says_what_it_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.set_num_threads(1)
    assert main(["init-model", str(tmp_path / "m"), "--arch", "llama", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "llama" in out and "M params" in out and "vocab 512" in out and str(tmp_path) in out
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    assert model.config.model_type == "llama"
    assert AutoTokenizer.from_pretrained(tmp_path / "m").chat_template


def test_init_model_with_warmup_trains_on_the_game_demonstrations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.set_num_threads(1)
    game = tmp_path / "double.py"
    game.write_text(GAME_FILE)
    fresh = tmp_path / "fresh"
    assert main(["init-model", str(fresh)]) == 0
    warm = tmp_path / "warm"
    args = ["init-model", str(warm), "--warmup", str(game), "--warmup-seconds", "2"]
    assert main(args) == 0
    assert "warmed up" in capsys.readouterr().out
    a = AutoModelForCausalLM.from_pretrained(fresh).state_dict()
    b = AutoModelForCausalLM.from_pretrained(warm).state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)  # same seed: only the warm-up differs
