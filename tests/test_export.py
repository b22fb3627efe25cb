"""The trained model out of a run: `RUN/final/` and `sparring export`, loaded by from_pretrained.

One short real arith run (tiny model, embedded NATS, trainer and worker processes) leaves its
checkpoints and `final/`; a second test builds a LoRA checkpoint the trainer's way by hand. What
must hold: the exported folder loads with transformers' Auto classes (weights, tokenizer, chat
template) and generates, greedily, the very token ids the trainer's own model generates at that
version, loaded the trainer's way (`load_trainable`, then `load_checkpoint`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from test_loop_e2e import _SETTINGS
from test_trainer_support import run_sparring

from sparring.cli import main
from sparring.export import candidates, export_model
from sparring.trainer import checkpoint as ckpt
from sparring.trainer.config import LoraConfig, TrainerConfig
from sparring.trainer.model import build_optimizer, load_trainable

pytestmark = pytest.mark.slow

_PROMPTS = ["What is 3 + 4?", "Write an expression equal to 7.", "17 - 9 ="]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("export")
    run_dir = root / "run"
    args = ["run", "arith", "--minutes", "0.6", "--run-dir", str(run_dir), "--no-inspector"]
    # The model cache is shared with test_metric_sinks.py (the same warm-up settings).
    cache = tmp_path_factory.getbasetemp() / "short-run-cache"
    r = run_sparring([*args, *_SETTINGS], cache, timeout=900)  # the warm-up, on a busy box
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return run_dir, r.stdout


def _greedy(model: Any, tokenizer: Any) -> list[list[int]]:
    """Greedy completions of a few chat prompts, as token ids."""
    out = []
    for text in _PROMPTS:
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": text}], add_generation_prompt=True, return_tensors="pt"
        )
        ids = prompt["input_ids"] if not torch.is_tensor(prompt) else prompt
        with torch.no_grad():
            gen = model.generate(
                ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=16
            )
        out.append(gen[0, ids.shape[1] :].tolist())
    return out


def _trainers_model(run_dir: Path, checkpoint: Path) -> Any:
    """The trainer's model at `checkpoint`, loaded as the trainer loads it on a resume."""
    config = TrainerConfig.model_validate_json(
        (run_dir / "trainer/trainer_config.json").read_text()
    )
    config = config.model_copy(update={"device": "cpu"})
    base = Path((run_dir / "initial_model").read_text().strip())
    model = load_trainable(base, config)
    ckpt.load_checkpoint(checkpoint, model, build_optimizer(model, config))
    return model.eval()


def _load(folder: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)


def test_every_run_ends_with_its_latest_weights_in_final(run: tuple[Path, str]) -> None:
    run_dir, stdout = run
    final = run_dir / "final"
    info = json.loads((final / "export.json").read_text())
    published = ckpt.read_publications(run_dir / "trainer" / "published.jsonl")
    assert published and info["version"] == published[-1].version  # the latest weights
    assert info["step"] == published[-1].step >= 1 and info["merged"]
    assert f"model: {final}  (version {info['version']}" in stdout
    model, tokenizer = _load(final)
    assert tokenizer.chat_template  # the run's chat template travels with the weights
    checkpoint = Path(info["checkpoint"])
    assert _greedy(model, tokenizer) == _greedy(_trainers_model(run_dir, checkpoint), tokenizer)


def test_an_exported_version_generates_what_the_trainers_model_did(
    run: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, _ = run
    oldest = next(c for c in candidates(run_dir) if c.checkpoint and c.version is not None)
    out = tmp_path / "model"
    assert main(["export", str(run_dir), "--version", str(oldest.version), str(out)]) == 0
    assert f"version {oldest.version}" in capsys.readouterr().out
    model, tokenizer = _load(out)
    trained = _trainers_model(run_dir, Path(str(oldest.checkpoint)))
    assert _greedy(model, tokenizer) == _greedy(trained, tokenizer)
    # ...and those are trained weights, not the starting model copied.
    start, _ = _load(Path((run_dir / "initial_model").read_text().strip()))
    assert any(
        not torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), start.state_dict().values(), strict=True)
    )


def test_asking_for_a_version_not_on_disk_lists_the_ones_that_are(
    run: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, _ = run
    assert main(["export", str(run_dir), "--version", "999", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    latest = candidates(run_dir)[-1]
    assert "has no checkpoint of version 999" in err
    assert "0 (the model the run started from)" in err
    assert f"{latest.version} (step {latest.step})" in err
    assert not (tmp_path / "m").exists()


def test_a_lora_checkpoint_exports_merged_with_its_adapter_beside_it(tmp_path: Path) -> None:
    from peft import AutoPeftModelForCausalLM

    from sparring.policy.tiny import build_tiny_model

    base = build_tiny_model(tmp_path / "base", hidden_size=32, num_layers=2)
    run_dir = tmp_path / "run"
    trainer_dir = run_dir / "trainer"
    trainer_dir.mkdir(parents=True)
    (run_dir / "initial_model").write_text(f"{base}\n")
    config = TrainerConfig(lora=LoraConfig(rank=4), device="cpu")
    (trainer_dir / "trainer_config.json").write_text(config.model_dump_json())
    # A trained adapter: B starts at zero (no change at all), so give it values.
    torch.manual_seed(1)
    model = load_trainable(base, config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.normal_(0, 0.3)
    state = ckpt.TrainerState(step=3, version=0)
    path = ckpt.save_checkpoint(
        trainer_dir / "checkpoints", model, build_optimizer(model, config), state, keep=2
    )
    ckpt.append_publication(trainer_dir / "published.jsonl", ckpt.Publication(version=1, step=3))

    info = export_model(run_dir, tmp_path / "out", version=1)
    assert info.lora and info.merged and info.step == 3
    merged, tokenizer = _load(tmp_path / "out")
    assert not any("lora" in k for k in merged.state_dict())  # plain weights, adapter folded in
    adapter = AutoPeftModelForCausalLM.from_pretrained(tmp_path / "out" / "adapter")
    trained = _trainers_model(run_dir, path)
    expected = _greedy(trained, tokenizer)
    assert _greedy(merged, tokenizer) == expected
    assert _greedy(adapter.eval(), tokenizer) == expected
    start, _ = _load(base)
    changed = [
        k for k, v in start.state_dict().items() if not torch.equal(v, merged.state_dict()[k])
    ]
    assert changed and all(k.split(".")[-2] in LoraConfig().targets for k in changed)
