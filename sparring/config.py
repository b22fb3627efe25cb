"""The run configuration: one validated file (YAML or TOML) plus `--set key=value` overrides.

Each component owns a small frozen config (BusConfig in bus/, TrainerConfig in trainer/, the
game's own model in graphs/); `RunConfig` only gathers them and each component is handed its own
section, never the tree. A bad value gets a `ConfigError` naming the field, what is wrong and
where it came from:

    config field 'trainer.lr' in run.yaml: Input should be greater than 0 (got -1)

The resolved config is saved as `config.yaml` in the run directory (and read back by --resume).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sparring.bus.config import BusConfig
from sparring.errors import ConfigError
from sparring.metric_sinks import WandbConfig
from sparring.policy.config import BackendConfig
from sparring.trainer.config import TrainerConfig

__all__ = [
    "LoopConfig",
    "PolicyConfig",
    "RoleConfig",
    "RunConfig",
    "SupervisorConfig",
    "WorkerConfig",
    "apply_overrides",
    "config_error",
    "describe",
    "load_config",
    "print_config",
    "save_config",
]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PolicyConfig(BackendConfig):
    """The shared policy every role plays by default, and its warm-up."""

    warmup_max_steps: int = Field(
        2000,
        ge=0,
        description="Most supervised warm-up steps of the tiny model on the game's demos (0: no "
        "warm-up). It stops earlier once the game's readiness check passes.",
    )
    warmup_seconds: float = Field(
        2400.0,
        gt=0,
        description="A guard on the warm-up's wall time (steps are the recipe). The search "
        "game's warm-up takes ~950 s on two idle cores; arith's and Kuhn's a few minutes.",
    )
    warmup_check_every: int = Field(
        25, ge=1, description="Warm-up steps between two readiness checks."
    )

    @model_validator(mode="after")
    def _trained_policy_loads_weights(self) -> PolicyConfig:
        if self.backend == "openai":
            raise ValueError(
                "the shared policy is trained, and a server behind backend 'openai' cannot be "
                "sent its new weights: serve it with 'transformers' or 'vllm', and bind servers "
                "to roles that are not trained (roles.<role>.policy)"
            )
        return self


class RoleConfig(_Section):
    """One role's own settings in this run."""

    policy: BackendConfig = Field(
        description="The policy that plays this role instead of the shared one: recorded in "
        "every episode, never trained (a frozen judge, a fixed opponent). `model` None: a "
        "frozen copy of the run's initial model."
    )


class WorkerConfig(_Section):
    """Rollout workers: processes that play episodes and publish samples."""

    workers: int = Field(1, ge=1, description="Worker processes (one per core is plenty).")
    concurrency: int = Field(32, ge=1, description="Episodes each worker plays at once.")
    max_backlog: int = Field(
        512,
        ge=1,
        description="Samples the trainer has not finished with (queued or held) beyond which "
        "workers pause: more would only wait in the queue and go stale.",
    )
    torch_threads: int = Field(1, ge=1, description="torch threads per worker process.")
    seed: int = Field(0, description="Base seed; worker i uses seed + i.")


class LoopConfig(_Section):
    """The loop as a whole: how long, how often to evaluate, what to show."""

    minutes: float | None = Field(10.0, gt=0, description="Stop after this long (None: never).")
    max_versions: int | None = Field(None, ge=1, description="Stop at this policy version.")
    eval_every: int = Field(5, ge=1, description="Evaluate the solver every k policy versions.")
    inspector: bool = Field(True, description="Serve the web inspector beside the loop.")
    inspector_port: int = Field(8265, ge=0, description="Inspector port (0: any free port).")
    plot_every_s: float = Field(30.0, gt=0, description="How often to redraw the PNG plots.")
    wandb: WandbConfig | None = Field(
        None,
        description="Log every metric to Weights & Biases too, e.g. {project: my-project} "
        "(needs `pip install sparring[wandb]`); None: TensorBoard (RUN/tb/) and metrics.jsonl.",
    )
    otlp_endpoint: str | None = Field(
        None,
        description="Export every episode as an OpenTelemetry trace over OTLP/HTTP to this URL, "
        "e.g. http://localhost:4318 (/v1/traces is added to a bare host) for Jaeger or a "
        "Collector, http://localhost:6006/v1/traces for Phoenix (needs `pip install "
        "sparring[otlp]`); None: no traces.",
    )


class SupervisorConfig(_Section):
    """How `sparring run` keeps its processes alive: a worker, the trainer or the embedded
    nats-server that dies is started again (the trainer from its checkpoint), waiting longer
    after each restart, until one process has been restarted too often in a minute."""

    max_restarts_per_minute: int = Field(
        5,
        ge=0,
        description="Restarts of one process within 60 s after which its next death stops the "
        "run with the reason (0: never restart; any death stops the run).",
    )
    backoff_s: float = Field(
        1.0,
        ge=0,
        description="Wait before restarting a process that died; doubled for each of its "
        "restarts in the last minute.",
    )
    max_backoff_s: float = Field(
        30.0, ge=0, description="The longest wait before a restart, however many came before."
    )


class RunConfig(_Section):
    """Everything `sparring run` needs. Sections go to their components unchanged."""

    game: str = Field("arith", description="Built-in game name, path/to/game.py or module:attr.")
    run: str | None = Field(None, description="Run name (default: <game>-<date>-<time>).")
    nats: str | None = Field(
        None,
        description="URL of an existing NATS server or cluster (credentials and TLS in `bus`); "
        "None starts an embedded nats-server storing under the run directory.",
    )
    game_params: dict[str, Any] = Field(
        default_factory=dict, description="The game's own config (validated by the game)."
    )
    loop: LoopConfig = Field(default_factory=LoopConfig, description="Duration, eval, display.")
    policy: PolicyConfig = Field(default_factory=PolicyConfig, description="The shared model.")
    worker: WorkerConfig = Field(default_factory=WorkerConfig, description="Rollout workers.")
    trainer: TrainerConfig = Field(default_factory=TrainerConfig, description="The trainer.")
    bus: BusConfig = Field(default_factory=BusConfig, description="NATS connection.")
    supervisor: SupervisorConfig = Field(
        default_factory=SupervisorConfig, description="Restarting processes that die."
    )
    roles: dict[str, RoleConfig] = Field(
        default_factory=dict,
        description="Per-role settings by role name, e.g. {judge: {policy: {backend: openai, "
        "openai: {url: ..., model: ...}}}}: a role bound to its own policy is never trained.",
    )


def load_config(
    path: Path | None,
    overrides: Sequence[str] = (),
    defaults: Mapping[str, Mapping[str, Any]] | None = None,
    **top: Any,
) -> RunConfig:
    """Read `path` (YAML or TOML; None = defaults), apply overrides, validate.

    `defaults` are sections laid under the file (a game's `run_defaults`: the file, the flags
    and the overrides win over them); `top` sets fields from dedicated command-line flags (e.g.
    game="arith"); `overrides` are `dotted.key=value` strings whose values are parsed as YAML
    scalars (1e-4, true, [1, 2]).
    """
    data = _merged(defaults or {}, _read(path) if path is not None else {})
    for key, value in top.items():
        if value is not None:
            _set(data, key, value)
    data = apply_overrides(data, overrides)
    return validate(data, source=str(path) if path else "")


def validate(data: dict[str, Any], source: str = "") -> RunConfig:
    """Validate a config mapping, turning pydantic's report into one clear ConfigError."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        raise config_error(e, source) from None


def config_error(e: ValidationError, source: str = "", section: str = "") -> ConfigError:
    """pydantic's report as one clear ConfigError naming the first bad field (under `section`,
    e.g. "game_params" for a game's own model)."""
    first = e.errors()[0]
    field = ".".join(str(p) for p in (section, *first["loc"]) if p != "") or "(top level)"
    problem = first["msg"]
    if first["type"] == "extra_forbidden":
        problem = "unknown field (check the spelling; `sparring config GAME` lists every field)"
    elif "input" in first and not isinstance(first["input"], dict):
        problem += f" (got {first['input']!r})"
    more = len(e.errors()) - 1
    if more:
        problem += f"; and {more} more problem{'s' if more > 1 else ''}"
    return ConfigError(field, problem, source)


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply `a.b.c=value` overrides to a nested mapping (a copy is returned)."""
    out: dict[str, Any] = yaml.safe_load(yaml.safe_dump(data)) or {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(item, "an override must look like section.field=value")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        _set(out, key.strip(), value)
    return out


def save_config(config: RunConfig, path: Path) -> None:
    """Write the resolved config as YAML (what --resume reads back)."""
    path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))


def _merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` laid on `base`, mappings merged key by key (a value of `over` wins)."""
    out = dict(base)
    for key, value in over.items():
        below = out.get(key)
        both = isinstance(below, Mapping) and isinstance(value, Mapping)
        out[key] = _merged(below, value) if both else value  # type: ignore[arg-type]
    return out


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError("(file)", f"{path} does not exist")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        else:
            data = yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as e:
        raise ConfigError("(file)", f"not valid {path.suffix[1:] or 'YAML'}: {e}", str(path)) from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("(top level)", "the file must hold a mapping of sections", str(path))
    return data


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for p in parents:
        child = node.setdefault(p, {})
        if not isinstance(child, dict):
            raise ConfigError(dotted, f"'{p}' is a value, not a section")
        node = child
    node[leaf] = value


def describe(
    game_model: type[BaseModel] | None = None,
    game: str = "",
    run_defaults: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """Every config field with its default and description, section by section: the reference
    `sparring config GAME` prints. `game_model` (the game's `config_model`) fills `game_params`;
    `run_defaults` (the game's) replace the global defaults they set."""
    lines: list[str] = []
    top = {"game": game} if game else {}
    values = validate(_merged(run_defaults or {}, top), source=f"{game or 'the'} game's defaults")
    _describe(values, "", lines, game_model() if game_model else None, game)
    return "\n".join(lines)


def _describe(
    values: BaseModel, prefix: str, lines: list[str], game_values: BaseModel | None, game: str
) -> None:
    """One section's fields, then its sub-sections (with the defaults they hold there)."""
    nested: list[tuple[str, BaseModel, str]] = []
    for name, field in type(values).model_fields.items():
        value = getattr(values, name)
        if isinstance(value, BaseModel):
            nested.append((name, value, field.description or ""))
            continue
        if prefix == "" and name == "game_params":
            title = f"the game's own settings ({game})" if game else "the game's own settings"
            nested.append((name, game_values or _NoGame(), title))
            continue
        lines.append(f"  {prefix}{name} = {value!r}")
        lines.append(f"      {field.description or ''}")
        optional = _optional_section(field.annotation) if value is None else None
        if optional is not None:  # e.g. trainer.lora: unset by default, its fields once set
            nested.append((name, optional, f"(when set) {field.description or ''}"))
    for name, sub, description in nested:
        lines.append("")
        lines.append(f"[{prefix}{name}]  {description}")
        _describe(sub, f"{prefix}{name}.", lines, None, "")


def _optional_section(annotation: Any) -> BaseModel | None:
    """The defaults of a `Section | None` field's section, where they can be built."""
    for kind in get_args(annotation):
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            try:
                return kind()
            except ValidationError:
                return None
    return None


class _NoGame(BaseModel):
    """Stands in for a game's config_model when no game is named."""


def print_config(args: Any) -> int:
    """`sparring config [GAME]`: the reference of every field, the game's own ones included."""
    from sparring.graphs import load_game  # lazy: only this command needs the games

    game = load_game(args.game)
    print(f"# sparring run {args.game}: every config field, its default and what it does.")
    print("# Set one with --set SECTION.FIELD=VALUE or in a YAML/TOML file of sections.")
    own = [
        f"{section}.{key}={value!r}"
        for section, values in game.run_defaults.items()
        for key, value in values.items()
    ]
    if own:
        print(f"# The {game.name} game sets its own defaults for: {', '.join(own)}.")
    print()
    print(describe(game.config_model, game.name, game.run_defaults))
    return 0
