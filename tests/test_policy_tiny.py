"""The tiny offline model builds, reloads like a real model, and tokenizes the way games need."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from sparring.policy.tiny import END_OF_TURN, build_tiny_model, build_tiny_tokenizer, load_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), seed=0)


def test_the_tiny_model_reloads_through_the_auto_classes_with_identical_ids(
    model_dir: Path,
) -> None:
    built = build_tiny_tokenizer(seed=0)
    reloaded = AutoTokenizer.from_pretrained(model_dir)
    for text in ["17 * (3 + 4) = 119", "You are the solver.\nAnswer: 8", "émoji 🙂 ok"]:
        assert reloaded.encode(text) == built.encode(text)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    n_params = sum(p.numel() for p in model.parameters())
    assert 500_000 < n_params < 1_000_000
    assert model.config.vocab_size == len(reloaded) <= 512
    assert reloaded.padding_side == "left"
    assert reloaded.eos_token == END_OF_TURN


def test_the_same_seed_builds_the_same_weights(model_dir: Path, tmp_path: Path) -> None:
    again = build_tiny_model(tmp_path, seed=0)
    a = AutoModelForCausalLM.from_pretrained(model_dir).state_dict()
    b = AutoModelForCausalLM.from_pretrained(again).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_every_digit_is_its_own_token(model_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(model_dir)
    for text in ["1234567890", " 42", "x=907+13"]:
        pieces = [tok.decode([i]) for i in tok.encode(text)]
        digits = [p.strip() for p in pieces if any(c.isdigit() for c in p)]
        assert all(len(d) == 1 and d.isdigit() for d in digits), pieces
        assert "".join(digits) == "".join(c for c in text if c.isdigit())


def test_the_chat_template_renders_turns_and_ends_with_the_generation_prompt(
    model_dir: Path,
) -> None:
    tok = AutoTokenizer.from_pretrained(model_dir)
    messages = [
        {"role": "system", "content": "You are the solver."},
        {"role": "user", "content": "What is 2 + 3?"},
    ]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|im_start|>system\nYou are the solver.<|im_end|>\n"
        "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n"
    )
    ids = tok.encode(text, add_special_tokens=False)
    assert ids.count(tok.convert_tokens_to_ids(END_OF_TURN)) == 2
    assert tok.decode(ids) == text


def test_the_llama_variant_builds_and_loads(tmp_path: Path) -> None:
    model, tok = load_model(build_tiny_model(tmp_path, arch="llama"), device="cpu")
    assert model.config.model_type == "llama"
    assert model.dtype == torch.float32
    ids = torch.tensor([tok.encode("1 + 1 = 2")])
    assert model(ids).logits.shape == (1, ids.shape[1], len(tok))
