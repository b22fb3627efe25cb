"""The tiny offline model: a ~0.65M-parameter decoder and a locally trained tokenizer.

`build_tiny_model(dir)` writes a folder that `AutoModelForCausalLM.from_pretrained(dir)` and
`AutoTokenizer.from_pretrained(dir)` load exactly like a downloaded model, without any network:
tests, the CPU demo and `sparring init-model` all start from it. `load_model(name_or_path)` is
the other way in: a local folder or a hub id (the latter only for users with network).

The tokenizer is byte-level BPE trained here on a small built-in corpus (arithmetic, chat-like
text, common English words). Every digit is its own token (a Digits pre-tokenizer runs before
ByteLevel), because the arith game asks the model to do digit arithmetic and a merged "17" would
hide the digits from it. The end-of-turn token `<|im_end|>` is the EOS, so a finished assistant
turn stops generation.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sparring.errors import PolicyError

if TYPE_CHECKING:
    import torch

__all__ = [
    "CHAT_TEMPLATE",
    "END_OF_TEXT",
    "END_OF_TURN",
    "PAD",
    "START_OF_TURN",
    "build_tiny_model",
    "build_tiny_tokenizer",
    "default_device",
    "load_model",
]

START_OF_TURN = "<|im_start|>"
END_OF_TURN = "<|im_end|>"
END_OF_TEXT = "<|endoftext|>"
PAD = "<|pad|>"
_SPECIALS = [END_OF_TEXT, START_OF_TURN, END_OF_TURN, PAD]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
"""ChatML, as Qwen uses it: `<|im_start|>role\\ncontent<|im_end|>\\n` per turn."""

_WORD_TEXT = (
    "the of and to a in is it you that he was for on are as with his they I at be this have from "
    "or one had by word but not what all were we when your can said there use an each which she "
    "do how their if will up other about out many then them these so some her would make like "
    "him into time has look two more write go see number no way could people my than first "
    "water been call who oil its now find long down day did get come made may part question "
    "answer solve solver proposer verifier judge target value expression equal compute result "
    "valid invalid correct wrong think step search document tool python code input output "
    "program function return print error true false yes none plus minus times divided sum "
    "product difference total because therefore final please give only short"
)
_WORDS = _WORD_TEXT.split()

_CHAT_LINES = (
    "You are a helpful assistant.",
    "You are the proposer. Write an expression equal to the target.",
    "You are the solver. Compute the value of the expression.",
    "Answer with a number only.",
    "The answer is",
    "Let me think step by step.",
    "Write one arithmetic expression whose value is",
    "What is the value of",
    "Final answer:",
    "Question:",
    "Answer:",
)


def _corpus(rng: random.Random, n: int = 3000) -> list[str]:
    """Training text for the tokenizer: arithmetic, chat turns and word salad."""
    lines: list[str] = []
    ops = "+-*"
    for _ in range(n):
        a, b, c = rng.randint(0, 999), rng.randint(0, 99), rng.randint(0, 9)
        o1, o2 = rng.choice(ops), rng.choice(ops)
        expr = f"({a} {o1} {b}) {o2} {c}" if rng.random() < 0.3 else f"{a} {o1} {b} {o2} {c}"
        lines.append(f"{expr} = {eval(expr)}")  # our own digits and operators only
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 12)))
        lines.append(words.capitalize() + rng.choice(".?!:"))
        role = rng.choice(("system", "user", "assistant"))
        lines.append(f"{START_OF_TURN}{role}\n{rng.choice(_CHAT_LINES)} {expr}{END_OF_TURN}\n")
    return lines


def build_tiny_tokenizer(vocab_size: int = 512, seed: int = 0) -> Any:
    """A `PreTrainedTokenizerFast`: byte-level BPE, single-digit tokens, ChatML specials."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(random.Random(seed)), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=END_OF_TURN,
        pad_token=PAD,
        additional_special_tokens=[START_OF_TURN, END_OF_TEXT],
        chat_template=CHAT_TEMPLATE,
        padding_side="left",  # in the constructor, or save_pretrained drops it
        model_max_length=2048,
    )


def _config(arch: Literal["qwen3", "llama"], tokenizer: Any, hidden: int, layers: int) -> Any:
    from transformers import LlamaConfig, Qwen3Config

    common: dict[str, Any] = dict(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=hidden // 4,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.convert_tokens_to_ids(END_OF_TURN),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    # Qwen3 and not qwen2: with model_type qwen2, AutoTokenizer swaps in Qwen2Tokenizer on reload
    # and the token ids change (STACK.md).
    return Qwen3Config(**common) if arch == "qwen3" else LlamaConfig(**common)


def build_tiny_model(
    out_dir: Path,
    arch: Literal["qwen3", "llama"] = "qwen3",
    seed: int = 0,
    *,
    hidden_size: int = 128,
    num_layers: int = 4,
    vocab_size: int = 512,
) -> Path:
    """Build the tiny model and tokenizer into `out_dir` and return it.

    Deterministic for a given seed. After saving, the folder is reloaded through the Auto classes
    and the token ids and chat rendering are checked against the originals, so a tokenizer class
    swap on reload fails here and not silently in training.
    """
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(vocab_size, seed)
    config = _config(arch, tokenizer, hidden_size, num_layers)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig(
        eos_token_id=[config.eos_token_id, tokenizer.convert_tokens_to_ids(END_OF_TEXT)],
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    _check_round_trip(out_dir, tokenizer)
    return out_dir


def _check_round_trip(out_dir: Path, built: Any) -> None:
    from transformers import AutoTokenizer

    reloaded = AutoTokenizer.from_pretrained(out_dir)
    probes = [
        "12 + 345 * (6 - 7) = 890",
        "The answer is 42.",
        f"{START_OF_TURN}user\nWhat is 3 + 4?{END_OF_TURN}\n",
        "naïve café ☕",
    ]
    for text in probes:
        want, got = built.encode(text), reloaded.encode(text)
        if want != got:
            raise PolicyError(
                f"tokenizer ids changed on reload from {out_dir} ({type(reloaded).__name__}): "
                f"{text!r} -> {want} before, {got} after; the tokenizer class was swapped"
            )
    if reloaded.padding_side != "left" or reloaded.chat_template != CHAT_TEMPLATE:
        raise PolicyError(f"{out_dir}: padding side or chat template not saved; rebuild it")


def default_device() -> str:
    """'cuda' where a GPU is visible, else 'cpu'."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(
    name_or_path: str | Path,
    device: str | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[Any, Any]:
    """(model, tokenizer) from a local folder or a hub id, in eval mode on `device`.

    Defaults (device None or 'auto'): CUDA if present, else CPU; bfloat16 on CUDA, float32 on
    CPU (float32 where logprobs feed importance ratios; bf16 logprobs differ by ~0.1, STACK.md).
    A hub id needs network; tests only pass local folders.
    """
    import torch
    from transformers import AutoModelForCausalLM

    from sparring.policy._codec import load_tokenizer

    device = default_device() if device in (None, "auto") else device
    if dtype is None:
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    tokenizer = load_tokenizer(name_or_path)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(name_or_path), dtype=dtype)
    except OSError as e:
        raise PolicyError(
            f"could not load a model from {name_or_path!r}: {e}. Pass a folder written by "
            "`sparring init-model DIR` or save_pretrained, or a hub id with network access"
        ) from e
    return model.to(device).eval(), tokenizer
