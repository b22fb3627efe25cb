"""Supervised warm-up: teach a fresh model a game's answer format before self-play starts.

RL can only sharpen what the policy sometimes gets right: a group of attempts that all fail
carries no signal (LEARNING.md, study 1). So a run starts from a model that has seen worked
examples of the easy levels and a small share of the frontier level. `warm_up` is that pass:

    report = warm_up(model_dir, examples, seconds=150)

`examples` is either a finite collection of (chat messages, assistant completion) pairs, cycled
in a fresh shuffled order each epoch, or a function drawing one pair from a `random.Random`
(an endless task generator). The loss is cross-entropy on the completion tokens and the
end-of-turn token only (the prompt is given, not learned; so is tool output, in a completion
given as segments, each encoded on its own as the tool loop appends it), with label smoothing
so the model
stays unsure enough to explore in RL. It trains for a wall-clock budget, because that is what a
user waits for; `max_steps` caps the steps too, which makes a run reproducible on a shared CPU
(how far the model gets depends on the steps, not the seconds), and `until(model, tokenizer)`,
asked every `check_every` steps, ends it as soon as the model is ready (e.g. greedy held-out
accuracy on the easy levels >= 0.9: docs/learning.md shows why a fixed length is no recipe).
Then it saves the weights back
into `model_dir` with `save_pretrained`, so any loader (and the trainer) picks them up.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
from transformers import AutoModelForCausalLM, AutoTokenizer

from sparring.errors import ConfigError, PolicyError
from sparring.policy.base import Example, Segment
from sparring.progress import Bar

__all__ = ["Example", "ExampleSource", "Segment", "StopReason", "WarmupReport", "warm_up"]

ExampleSource = Iterable[Example] | Callable[[random.Random], Example]
"""A finite set of examples (cycled) or a function that draws one from a seeded generator."""

StopReason = Literal["time", "max_steps", "until"]
"""Which budget ended a warm-up."""

_IGNORE = -100  # label value cross_entropy skips: prompt and padding positions
_PLAIN_EVERY_S = 5.0  # without a terminal, one progress line this often
_POOL_BATCHES = 8  # batches' worth of examples sorted by length together (_bucketed)
_TAIL = 10  # the reported final loss is the mean of this many last steps (one step is noisy)


class WarmupReport(BaseModel):
    """What a warm-up pass did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: int = Field(ge=0, description="Optimizer steps taken.")
    examples_seen: int = Field(ge=0, description="Examples trained on (steps x batch size).")
    first_loss: float = Field(description="Loss of the first step.")
    final_loss: float = Field(description=f"Mean loss of the last {_TAIL} steps (or fewer).")
    seconds: float = Field(
        ge=0, description="Wall time of the pass (until's checks in, saving out)."
    )
    stopped_by: StopReason = Field(description="The budget that ended it, or `until` saying so.")


def warm_up(
    model_dir: Path,
    examples: ExampleSource,
    seconds: float,
    lr: float = 1e-3,
    batch_size: int = 64,
    label_smoothing: float = 0.1,
    seed: int = 0,
    progress: bool = True,
    max_steps: int | None = None,
    until: Callable[[Any, Any], bool] | None = None,
    check_every: int = 100,
) -> WarmupReport:
    """Train the model in `model_dir` on `examples` for `seconds` of wall time, then save it.

    Stops early after `max_steps` optimizer steps, or when `until(model, tokenizer)` (called
    every `check_every` steps, the model in eval mode) returns True. The step in flight when the
    time runs out is finished, so the pass takes at least one step. Runs on CUDA when present
    (float32: the model is small and the weights are saved as loaded).
    """
    _check_arguments(seconds, lr, batch_size, label_smoothing, max_steps, check_every)
    tokenizer, model = _load(model_dir)
    end_id = _end_of_turn_id(tokenizer, model)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    batches = _batches(examples, rng, batch_size, lambda ex: _encode(tokenizer, ex, end_id))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end_id
    device = next(model.parameters()).device
    losses: list[float] = []
    stopped_by: StopReason = "time"
    model.train()
    start = time.monotonic()
    with _bar(progress) as bar:
        while True:
            input_ids, labels, attention = _collate(next(batches), pad_id, device)
            losses.append(_step(model, optimizer, input_ids, labels, attention, label_smoothing))
            done = (time.monotonic() - start) / seconds
            bar.update(
                max(done, len(losses) / (max_steps or math.inf)), loss=losses[-1], steps=len(losses)
            )
            if len(losses) == max_steps:
                stopped_by = "max_steps"
                break
            if (
                until is not None
                and len(losses) % check_every == 0
                and _ask(until, model, tokenizer)
            ):
                stopped_by = "until"
                break
            if done >= 1:
                break
    elapsed = time.monotonic() - start
    model.eval()
    model.save_pretrained(model_dir)
    return WarmupReport(
        steps=len(losses),
        examples_seen=len(losses) * batch_size,
        first_loss=losses[0],
        final_loss=sum(losses[-_TAIL:]) / len(losses[-_TAIL:]),
        seconds=elapsed,
        stopped_by=stopped_by,
    )


def _step(
    model: Any,
    optimizer: torch.optim.Optimizer,
    input_ids: torch.Tensor,
    labels: torch.Tensor,
    attention: torch.Tensor,
    label_smoothing: float,
) -> float:
    """One supervised step; returns its loss."""
    logits = model(input_ids=input_ids, attention_mask=attention).logits  # (B, T, V)
    loss = F.cross_entropy(
        logits[:, :-1].flatten(0, 1).float(),
        labels[:, 1:].flatten(),
        ignore_index=_IGNORE,
        label_smoothing=label_smoothing,
    )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.item())


def _ask(until: Callable[[Any, Any], bool], model: Any, tokenizer: Any) -> bool:
    model.eval()
    with torch.no_grad():
        ready = until(model, tokenizer)
    model.train()
    return ready


def _check_arguments(
    seconds: float,
    lr: float,
    batch_size: int,
    label_smoothing: float,
    max_steps: int | None,
    check_every: int,
) -> None:
    if not seconds > 0:
        raise ConfigError("seconds", f"is {seconds}; give the warm-up a positive time budget")
    if not lr > 0:
        raise ConfigError("lr", f"is {lr}; use a positive learning rate such as 1e-3")
    if batch_size < 1:
        raise ConfigError("batch_size", f"is {batch_size}; use at least 1 (64 is the default)")
    if not 0 <= label_smoothing < 1:
        raise ConfigError("label_smoothing", f"is {label_smoothing}; use a value in [0, 1)")
    if max_steps is not None and max_steps < 1:
        raise ConfigError("max_steps", f"is {max_steps}; use at least 1, or None for no cap")
    if check_every < 1:
        raise ConfigError("check_every", f"is {check_every}; ask `until` every 1 or more steps")


def _load(model_dir: Path) -> tuple[Any, Any]:
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    except (OSError, ValueError) as e:
        raise PolicyError(
            f"cannot load a model and tokenizer from {model_dir}: {e}; build one first with "
            "`sparring init-model DIR` or point at a folder saved with save_pretrained"
        ) from e
    if tokenizer.chat_template is None:
        raise PolicyError(f"the tokenizer in {model_dir} has no chat template; save one with it")
    return tokenizer, model.to("cuda" if torch.cuda.is_available() else "cpu")


def _end_of_turn_id(tokenizer: Any, model: Any) -> int:
    # The token generation stops at: learning to emit it is what makes answers end cleanly.
    eos = model.generation_config.eos_token_id
    if isinstance(eos, list):
        eos = eos[0] if eos else None
    eos = eos if eos is not None else tokenizer.eos_token_id
    if eos is None:
        raise PolicyError("the model has no eos_token_id; set it in its generation_config")
    return int(eos)


def _encode(tokenizer: Any, example: Example, end_id: int) -> tuple[list[int], list[bool]]:
    """Token ids of prompt + completion + end of turn, and which of them are learned."""
    messages, completion = example
    # Same ids a policy feeds at generation time: the rendered prompt, then the raw completion.
    prompt = tokenizer.apply_chat_template(
        [m.model_dump() for m in messages],
        add_generation_prompt=True,
        tokenize=True,
        return_dict=False,
    )
    segments = [(completion, True)] if isinstance(completion, str) else completion
    ids, learned = list(prompt), [False] * len(prompt)
    for text, learn in segments:
        # Each segment on its own, as the tool loop appends a tool's output encoded apart.
        piece = tokenizer.encode(text, add_special_tokens=False)
        ids += piece
        learned += [learn] * len(piece)
    return [*ids, end_id], [*learned, True]


def _batches(
    examples: ExampleSource,
    rng: random.Random,
    batch_size: int,
    encode: Callable[[Example], tuple[list[int], list[bool]]],
) -> Iterator[list[tuple[list[int], list[bool]]]]:
    """Batches of encoded examples, grouped by length (`_bucketed`)."""
    return _bucketed(_stream(examples, rng, encode), rng, batch_size)


def _stream(
    examples: ExampleSource,
    rng: random.Random,
    encode: Callable[[Example], tuple[list[int], list[bool]]],
) -> Iterator[tuple[list[int], list[bool]]]:
    """Encoded examples without end: drawn from a generator, or a finite set cycled in a fresh
    shuffled order each epoch."""
    if callable(examples):
        while True:
            yield encode(examples(rng))
    encoded = [encode(ex) for ex in examples]  # encoded once: a finite set is seen many times
    if not encoded:
        raise ConfigError("examples", "is empty; give at least one (messages, completion) pair")
    while True:
        yield from (encoded[i] for i in rng.sample(range(len(encoded)), len(encoded)))


def _bucketed(
    stream: Iterator[tuple[list[int], list[bool]]], rng: random.Random, batch_size: int
) -> Iterator[list[tuple[list[int], list[bool]]]]:
    """Batches cut from a pool of `_POOL_BATCHES` batches' worth of examples sorted by length,
    handed out in random order.

    A batch is padded to its longest example, and a game with a long tail (a 3-hop search
    trajectory is three times a 1-hop one) otherwise pays the tail's length on every row:
    measured on the search game's demonstrations (batch 32), 48% of a step's tokens were padding,
    bucketed 11%. Every example is still
    seen exactly once per pool, so what is learned is unchanged."""
    while True:
        pool = sorted(
            (next(stream) for _ in range(batch_size * _POOL_BATCHES)), key=lambda e: len(e[0])
        )
        cuts = [pool[i : i + batch_size] for i in range(0, len(pool), batch_size)]
        yield from rng.sample(cuts, len(cuts))


def _collate(
    batch: Sequence[tuple[list[int], list[bool]]], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded input ids, labels (-100 where nothing is learned: the prompt, tool output,
    padding) and attention mask, each (B, T)."""
    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), _IGNORE, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (ids, learned) in enumerate(batch):
        row_ids = torch.tensor(ids)
        input_ids[row, : len(ids)] = row_ids
        labels[row, : len(ids)] = torch.where(torch.tensor(learned), row_ids, _IGNORE)
        attention[row, : len(ids)] = 1
    return input_ids.to(device), labels.to(device), attention.to(device)


def _bar(enabled: bool) -> Bar:
    """Progress over the budget (a fraction of the time or of the steps) with the loss: a rich
    bar on a terminal, otherwise (a `make demo` piped to a file, a log) a plain line every
    `_PLAIN_EVERY_S` seconds: steps done, loss, elapsed and an estimate of what is left."""

    def line(done: float, elapsed: float, left: float, fields: dict[str, Any]) -> str:
        return (
            f"warm-up: {fields['steps']} steps, loss {fields['loss']:.3f}, {elapsed:.0f} s "
            f"elapsed, at most ~{left:.0f} s left"
        )

    columns = [
        TextColumn("warm-up"),
        BarColumn(),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TimeRemainingColumn(),
    ]
    return Bar(
        total=1.0,
        enabled=enabled,
        columns=columns,
        line=line,
        every_s=_PLAIN_EVERY_S,
        fields={"loss": math.nan, "steps": 0},
    )
