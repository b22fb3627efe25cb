"""Every model that crosses the bus: the contract between workers, the trainer and the inspector.

All messages are frozen pydantic models with `extra="forbid"`, a `kind` discriminator, a
`schema_version` and an `id` that is also their JetStream `Nats-Msg-Id` (so a retried publish is
never stored twice). Token ids, logprobs and loss masks are packed arrays (see `_packed`), so a
long trajectory costs microseconds to encode. `sparring schema DIR` writes the JSON Schema of each.

Lifecycle of one lap: a worker takes a `Task`, plays an episode, publishes one `Sample` per
trainable policy call and one `Episode` with the whole conversation; the trainer consumes samples,
steps, and announces a `PolicyVersion`; everyone publishes `Metric`s; a message that cannot be
read becomes a `DeadLetter`.
"""

from __future__ import annotations

import math
import os
import re
import time
from enum import StrEnum
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    model_validator,
)

from sparring._packed import Bits, Float32s, Int32s

__all__ = [
    "MESSAGES",
    "SCHEMA_VERSION",
    "ChatMessage",
    "DeadLetter",
    "Episode",
    "Message",
    "Metric",
    "NodeTiming",
    "PolicyVersion",
    "Role",
    "RoleName",
    "Sample",
    "SampleReward",
    "Task",
    "ToolCall",
    "Turn",
    "Verdict",
    "message_adapter",
    "new_id",
    "role_name",
]

SCHEMA_VERSION = 7
"""Bumped on any change a reader of the previous version could misread (3: ToolCall.data and
DeadLetter.truncated/original_size, fields a v2 reader would refuse as unknown; 4: Turn.call_id,
which a tool call's data names to nest a sub-agent's turn under it; 5: Metric.note, the words of
a restart record; 6: Turn.finish_reason, which an episode's trace spans report; 7:
PolicyVersion.digest/host/file/delta/delta_base/delta_bytes/broadcast, the ways a worker can
get the weights, and `weights` empty while only the same-host file exists)."""


def new_id() -> str:
    """A 32-hex-digit id that sorts by creation time (48-bit ms clock + 80 random bits)."""
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"


class Role(StrEnum):
    """The built-in role names of the shipped games; a game may name its own (`RoleName`)."""

    PROPOSER = "proposer"
    SOLVER = "solver"
    VERIFIER = "verifier"
    JUDGE = "judge"
    PLANNER = "planner"
    REFINER = "refiner"


_ROLE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


def role_name(name: str) -> str:
    """`name` as a plain role name, or ValueError: lowercase letters, digits and '_', starting
    with a letter, at most 32 characters (it becomes part of a NATS subject and a metric name)."""
    if not isinstance(name, str) or not _ROLE_NAME.fullmatch(name):
        raise ValueError(
            f"role name {name!r} is not an identifier: use lowercase letters, digits and '_', "
            "starting with a letter, at most 32 characters (e.g. 'solver' or 'player_0')"
        )
    return str(name)  # a Role member becomes its plain value, so roles compare as strings


RoleName = Annotated[str, AfterValidator(role_name)]
"""A role a game plays: one of `Role`'s built-in names or any name the game declares."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Message(_Model):
    schema_version: int = Field(
        SCHEMA_VERSION, description="Contract version of the writer; newer than ours is refused."
    )
    id: str = Field(default_factory=new_id, description="Unique id; also the Nats-Msg-Id.")

    @model_validator(mode="after")
    def _not_from_the_future(self) -> Self:
        if self.schema_version > SCHEMA_VERSION:
            raise ValueError(
                f"written with schema_version {self.schema_version}, this sparring reads up to "
                f"{SCHEMA_VERSION}: upgrade sparring on this consumer"
            )
        return self


class Task(_Message):
    """A seed for one episode: what the proposer is asked to build a problem around."""

    kind: Literal["task"] = "task"
    run: str = Field(description="Run name; streams and subjects are per run.")
    game: str = Field(description="Name of the game that plays this task.")
    params: dict[str, JsonValue] = Field(
        default_factory=dict, description="Game-specific seed, e.g. {'target': 7, 'difficulty': 3}."
    )
    split: Literal["train", "eval"] = Field("train", description="eval tasks are never trained on.")
    created_at: float = Field(default_factory=time.time, description="Unix time of creation.")


class Sample(_Message):
    """One trainable policy call: the exact tokens in and out, as the policy produced them."""

    kind: Literal["sample"] = "sample"
    run: str = Field(description="Run name.")
    game: str = Field(description="Game that produced the call.")
    role: RoleName = Field(description="Role that made the call; advantages are computed per role.")
    episode_id: str = Field(description="Episode the call belongs to.")
    group_id: str = Field(description="Samples compared with each other for the advantage.")
    group_size: int = Field(ge=1, description="How many samples the group holds when complete.")
    prompt_ids: Int32s = Field(description="Prompt token ids, exactly as fed to the policy.")
    completion_ids: Int32s = Field(description="Generated token ids (tool output included).")
    logprobs: Float32s = Field(description="Behaviour logprob of each completion token.")
    loss_mask: Bits = Field(description="1 where a completion token is trained, 0 for tool output.")
    policy_version: int = Field(ge=0, description="Version of the weights that generated it.")
    reward: float | None = Field(None, description="Reward, once the game's rules assigned it.")
    finish_reason: Literal["stop", "length"] = Field(
        "stop", description="stop: an end token or stop string; length: cut at max tokens."
    )
    created_at: float = Field(default_factory=time.time, description="Unix time of creation.")

    @model_validator(mode="after")
    def _aligned(self) -> Self:
        n = len(self.completion_ids)
        if len(self.logprobs) != n or len(self.loss_mask) != n:
            raise ValueError(
                f"completion_ids ({n}), logprobs ({len(self.logprobs)}) and loss_mask "
                f"({len(self.loss_mask)}) must have the same length"
            )
        # One NaN or inf trained is every weight NaN, and every later episode fails to sample:
        # such a sample is refused here, on receipt, so it becomes a dead letter with the reason.
        if self.reward is not None and not math.isfinite(self.reward):
            raise ValueError(f"reward is {self.reward}: it must be a finite number")
        # A huge finite reward is as bad: one step is skipped as non-finite, but the running
        # RAE baseline takes it in and every later advantage of the role is swamped by it.
        if self.reward is not None and abs(self.reward) > MAX_ABS_REWARD:
            raise ValueError(
                f"reward is {self.reward}: beyond +-{MAX_ABS_REWARD:g}, which no game pays; "
                "scale the game's rewards down"
            )
        bad = _first_bad(self.logprobs, "logprob")
        if bad is not None:
            raise ValueError(
                f"logprobs[{bad}] is {self.logprobs[bad]}: it must be a finite number <= 0 "
                "(the log of a probability)"
            )
        bad = _first_bad(self.loss_mask, "bit")
        if bad is not None:
            raise ValueError(f"loss_mask[{bad}] is {self.loss_mask[bad]}: it must be 0 or 1")
        return self


MAX_ABS_REWARD = 1e6
"""The largest reward a Sample may carry, either sign (see Sample's checks)."""

_LOGPROB_SLACK = 1e-3  # float32 log_softmax may round the log of a near-1 probability above 0


def _first_bad(values: Float32s | Bits, what: Literal["logprob", "bit"]) -> int | None:
    """Index of the first item that is no logprob (NaN, inf or > 0) or no bit (> 1), or None
    (numpy, imported on first use: ~10 us for 8k items, where a Python loop costs ~150 us)."""
    import numpy as np

    v = np.frombuffer(values.tobytes(), dtype=values.dtype)
    ok = (v <= 1) if what == "bit" else (np.isfinite(v) & (v <= _LOGPROB_SLACK))
    return None if ok.all() else int(np.flatnonzero(~ok)[0])


class ChatMessage(_Model):
    """One message of a conversation, as a chat template sees it."""

    role: Literal["system", "user", "assistant", "tool"] = Field(description="Speaker.")
    content: str = Field(description="Text (untrusted: model output is shown escaped).")


class ToolCall(_Model):
    """A tool a role called, with what came back."""

    name: str = Field(description="Tool name, e.g. 'search' or 'python'.")
    arguments: dict[str, JsonValue] = Field(default_factory=dict, description="Call arguments.")
    result: str = Field("", description="What the tool returned, as the role saw it.")
    data: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="What the tool returned for the record, not shown to the role: e.g. the "
        "ids, titles and scores of a search's hits.",
    )
    error: str | None = Field(None, description="Why the call failed, if it did.")
    duration_s: float = Field(0.0, ge=0, description="Wall time of the call.")


class Turn(_Model):
    """One step of one role inside an episode: its prompt, its answer, its tools."""

    role: RoleName = Field(description="Who spoke.")
    node: str = Field(description="Graph node that ran the step.")
    messages: list[ChatMessage] = Field(description="The conversation the policy was given.")
    completion: str = Field(description="What the policy wrote (decoded).")
    parsed: JsonValue = Field(None, description="What the role's parser made of it, if anything.")
    tool_calls: list[ToolCall] = Field(default_factory=list, description="Tools called.")
    sample_id: str | None = Field(None, description="The Sample this call produced, if trained.")
    call_id: str = Field(
        "",
        description="The recorded call's id. A tool that runs another role (hiersearch's "
        "sub-agents) lists the ids of the calls that answered it in `ToolCall.data['calls']`, "
        "so a viewer nests those turns under that tool call.",
    )
    prompt_tokens: int = Field(0, ge=0, description="Prompt length in tokens.")
    completion_tokens: int = Field(0, ge=0, description="Completion length in tokens.")
    policy_version: int = Field(0, ge=0, description="Weights version that answered.")
    started_at: float = Field(0.0, description="Unix time the call started.")
    duration_s: float = Field(0.0, ge=0, description="Wall time of the call.")
    finish_reason: Literal["stop", "length"] | None = Field(
        None, description="Why generation ended (None in episodes written before schema 6)."
    )


class NodeTiming(_Model):
    """One visit of a graph node, in the order the graph ran them."""

    node: str = Field(description="Node name.")
    started_at: float = Field(description="Unix time the node started.")
    duration_s: float = Field(ge=0, description="Wall time spent in the node.")


class Verdict(_Model):
    """A checked judgement inside the episode (never trusted from the model)."""

    role: RoleName = Field(description="Role whose output was judged.")
    name: str = Field(description="What was checked, e.g. 'valid_proposal' or 'solved'.")
    ok: bool = Field(description="Outcome.")
    reason: str = Field("", description="Why, in words a person can act on.")
    sample_id: str | None = Field(None, description="The judged Sample, if any.")


class SampleReward(_Model):
    """The reward the game's rules paid one sample, and why."""

    sample_id: str = Field(description="Sample paid.")
    role: RoleName = Field(description="Its role.")
    group_id: str = Field(description="Its group.")
    reward: float = Field(description="Reward.")
    reason: str = Field("", description="Which rule paid it, e.g. '1 - solve rate 0.4'.")


class Episode(_Message):
    """Everything that happened in one episode, for the inspector and for debugging."""

    kind: Literal["episode"] = "episode"
    run: str = Field(description="Run name.")
    game: str = Field(description="Game played.")
    task: Task = Field(description="The task the episode was seeded with.")
    worker: str = Field("", description="Worker that played it.")
    policy_version: int = Field(0, ge=0, description="Weights version at the start.")
    turns: list[Turn] = Field(default_factory=list, description="Every role step, in order.")
    path: list[NodeTiming] = Field(default_factory=list, description="Graph nodes visited.")
    verdicts: list[Verdict] = Field(default_factory=list, description="Checked outcomes.")
    rewards: list[SampleReward] = Field(default_factory=list, description="Reward per sample.")
    stats: dict[str, float] = Field(default_factory=dict, description="e.g. solve_rate.")
    errors: list[str] = Field(default_factory=list, description="What went wrong, if anything.")
    started_at: float = Field(default_factory=time.time, description="Unix time of the start.")
    duration_s: float = Field(0.0, ge=0, description="Wall time of the whole episode.")


class PolicyVersion(_Message):
    """Announces new weights: what they are (digest) and every way a worker can get them.

    The single source of truth of a version (`sparring.weights` chooses the way per worker):
    the same-host `file` when the worker runs on `host`, else the Object Store: the `delta`
    from the previous version when the worker serves exactly that one, else the whole
    `weights`. A version may be announced twice: first with the file alone (`weights` empty),
    then with the bus copies once they are stored. Records before schema 7 carry only
    `weights` and `sha256`, and are read as they were."""

    kind: Literal["policy_version"] = "policy_version"
    run: str = Field(description="Run name.")
    version: int = Field(ge=0, description="Monotonic version number; 0 is the initial model.")
    step: int = Field(ge=0, description="Trainer optimizer steps taken.")
    weights: str = Field(
        description="Object Store name of the whole weights (safetensors); empty while only "
        "the same-host file exists (the bus copy is announced when stored)."
    )
    format: Literal["full", "lora"] = Field("full", description="Full state dict or LoRA adapter.")
    size_bytes: int = Field(0, ge=0, description="Size of the weights (safetensors bytes).")
    sha256: str = Field(
        "", description="Hex SHA-256 of the stored object (what records before schema 7 verify)."
    )
    digest: str = Field(
        "",
        description="'xxh3_128:<hex>' of the safetensors bytes: every path checks it before "
        "serving ('' in records before schema 7, which are checked by sha256).",
    )
    host: str = Field("", description="Machine identity (`sparring.weights.host_id`) of `file`.")
    file: str = Field(
        "", description="Absolute path of the same bytes on `host`, written once, atomically."
    )
    delta: str = Field(
        "",
        description="Object Store name of the compressed delta from version - 1 ('' if none): "
        "XOR of the two safetensors files, byte planes split, zstd.",
    )
    delta_base: str = Field("", description="Digest of the version - 1 bytes the delta applies to.")
    delta_bytes: int = Field(0, ge=0, description="Size of the stored delta.")
    broadcast: str = Field(
        "",
        description="Rendezvous of a collective (NCCL) broadcast of this version, "
        "'tcp://host:port' ('' if none; see sparring/weights/collective.py).",
    )
    created_at: float = Field(default_factory=time.time, description="Unix time of publication.")


class Metric(_Message):
    """A set of named numbers from one source at one step."""

    kind: Literal["metric"] = "metric"
    run: str = Field(description="Run name.")
    source: str = Field(description="Who measured: 'trainer', 'worker-0', 'eval', ...")
    step: int = Field(ge=0, description="Trainer step (or policy version) it refers to.")
    values: dict[str, float] = Field(description="The figures, e.g. {'loss': 0.12}.")
    note: str = Field(
        "",
        max_length=2000,
        description="Words that go with the figures, e.g. why the launcher restarted a process "
        "('trainer killed (SIGKILL; out of memory?)').",
    )
    time: float = Field(default_factory=time.time, description="Unix time of measurement.")


class DeadLetter(_Message):
    """A message a consumer could not read, kept with the reason and the original bytes."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )

    kind: Literal["dead_letter"] = "dead_letter"
    subject: str = Field(description="Subject the bad message arrived on.")
    consumer: str = Field("", description="Consumer that rejected it.")
    error: str = Field(description="Why it was rejected (decode or validation error).")
    data: bytes = Field(
        description="The original payload, byte for byte (base64 in JSON); only its first bytes "
        "when `truncated`."
    )
    truncated: bool = Field(
        False,
        description="True when `data` was cut so that the letter fits the server's max_payload "
        "(a payload just under the limit no longer fits once wrapped in a letter).",
    )
    original_size: int = Field(
        0, ge=0, description="Bytes of the original payload (0 in letters from before this field)."
    )
    received_at: float = Field(default_factory=time.time, description="Unix time of rejection.")


Message = Annotated[
    Task | Sample | Episode | PolicyVersion | Metric | DeadLetter, Field(discriminator="kind")
]
"""Any bus message; validate with `message_adapter()`.

This union is the one place a message kind is listed: `MESSAGES` is built from it, and the codec,
the bus's subjects and streams and `sparring schema` are built from `MESSAGES`. A new kind is a
model here plus its route in `bus/_names.py` (which refuses to import without one)."""

MESSAGES: dict[str, type[_Message]] = {
    cls.model_fields["kind"].default: cls for cls in get_args(get_args(Message)[0])
}
"""Every message class by its `kind`, in the order of `Message`."""

_ADAPTER: TypeAdapter[Any] | None = None


def message_adapter() -> TypeAdapter[Any]:
    """The TypeAdapter that validates any message by its `kind` (built once, on first use)."""
    global _ADAPTER
    if _ADAPTER is None:
        _ADAPTER = TypeAdapter(Message)
    return _ADAPTER
