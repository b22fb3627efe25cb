"""The game API: what a game is, and the rules it is scored by.

A game is a LangGraph graph, a task source and reward rules, bundled in a `Game`:

    game = Game(
        name="mygame",
        build=build,                    # (Policies, cfg) -> compiled StateGraph
        score=score,                    # (final state, recorded calls, cfg) -> [Payout] or Scoring
        tasks=tasks,                    # (rng, cfg) -> the params of one task
        roles={"solver": RoleSpec(estimator="grpo"),            # how each role is credited
               "proposer": RoleSpec(estimator="rae", grouping="call")},
        # optional: description, config_model (a frozen pydantic model, every field with a
        # default), start ((Task, cfg) -> input state; default: the params), task_source (a
        # curriculum that adapts, instead of tasks), evaluate, demonstrations, ready,
        # stateful_source (the task source keeps state in a folder across restarts), drawing
        # ((Policies, cfg) -> a graph to draw instead, when nodes call subgraphs from inside)
    )

The node contract is LangGraph's: a node takes the state and returns a partial update. Nodes
call roles (or the policy directly) with the policies `build` got from `Policies.for_role`, so
every call is recorded for them. `score` pays calls by id (`Payout`); a call nobody pays is not
trained. `play_episode` (episode.py) runs all of it and turns it into Samples and an Episode.

`roles` names the roles the game plays (any identifiers: "player_0", "examiner") and how each is
credited (`sparring.credit.RoleSpec`): its grouping and default advantage estimator. A run whose
config would leave a declared role untrainable fails at start, naming the role and the fix.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from sparring.credit import RoleSpec
from sparring.errors import GameError
from sparring.messages import Task, Verdict, role_name
from sparring.policy.base import Example, Policy
from sparring.roles.call import Call

if TYPE_CHECKING:
    from sparring.graphs.episode import EpisodeOutcome
    from sparring.graphs.policies import Policies

__all__ = ["Game", "NoConfig", "Payout", "Readiness", "Scoring", "TaskSource"]


class TaskSource(Protocol):
    """Where a worker's tasks come from; it may adapt to the outcomes it observes."""

    def next_params(self) -> dict[str, JsonValue]:
        """The params of the next task (`Task.params`)."""
        ...

    def observe(self, outcome: EpisodeOutcome) -> None:
        """Learn from a finished episode (an adaptive curriculum moves here)."""
        ...


class Payout(BaseModel):
    """The reward the rules pay one recorded call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call_id: str = Field(description="The Call paid (its id becomes the Sample id).")
    reward: float = Field(description="Reward.")
    reason: str = Field(description="Which rule paid it, e.g. 'solved' or '1 - solve rate 0.4'.")
    group: str | None = Field(
        default=None,
        description="Key of the call's group in the episode: calls paid under the same key are "
        "compared with each other (e.g. the n solver attempts at one question). None: the "
        "role's declared grouping decides (its own group under 'call', else one group per role).",
    )


class Scoring(BaseModel):
    """What a game's reward rules made of a finished episode."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    payouts: list[Payout] = Field(default=[], description="Calls to train, with rewards.")
    verdicts: list[Verdict] = Field(default=[], description="Checked outcomes, for the record.")
    stats: dict[str, float] = Field(default={}, description="Per-episode figures (averaged).")


class Readiness(BaseModel):
    """A readiness check's answer with the figures behind it, so a long warm-up can say how far
    it is (a game's `ready` may return this or a plain bool)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ready: bool = Field(description="Whether the policy is ready for RL.")
    figures: dict[str, float] = Field(default={}, description="What was measured, by name.")
    needs: dict[str, float] = Field(default={}, description="The bar each figure must reach.")

    def summary(self) -> str:
        """One line: each figure against its bar, then the verdict."""
        parts = [
            f"{name} {value:.2f}"
            + (f" (needs {self.needs[name]:.2f})" if name in self.needs else "")
            for name, value in self.figures.items()
        ]
        return ", ".join(parts) + (": ready" if self.ready else ": not yet")


Build = Callable[["Policies", Any], Any]
Start = Callable[[Task, Any], dict[str, Any]]
Score = Callable[[dict[str, Any], Sequence[Call], Any], "Scoring | Sequence[Payout]"]
MakeSource = Callable[..., TaskSource]
"""(cfg, seed) -> a TaskSource; with `stateful_source`, (cfg, seed, state_dir)."""
MakeTask = Callable[[random.Random, Any], dict[str, JsonValue]]
Evaluate = Callable[[Policy, Any], Awaitable[dict[str, float]]]
Ready = Callable[[Policy, Any], Awaitable["bool | Readiness"]]
Demonstrate = Callable[[random.Random, Any], Example]
"""(rng, cfg) -> a prompt and the completion to learn: a text, or (text, learned) segments
when it holds tool output (`sparring.roles.tool_loop.demonstration_segments` makes them)."""


def _params_as_state(task: Task, cfg: Any) -> dict[str, Any]:
    return dict(task.params)


class NoConfig(BaseModel):
    """The config section of a game that has no settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class _FunctionSource:
    """A TaskSource over a plain `tasks(rng, cfg) -> params` function: it adapts to nothing."""

    def __init__(self, tasks: MakeTask, cfg: Any, seed: int) -> None:
        self._tasks, self._cfg, self._rng = tasks, cfg, random.Random(seed)

    def next_params(self) -> dict[str, JsonValue]:
        return self._tasks(self._rng, self._cfg)

    def observe(self, outcome: EpisodeOutcome) -> None:
        pass


class Game:
    """A game: its graph builder, task source, reward rules and optional evaluation."""

    def __init__(
        self,
        *,
        name: str,
        build: Build,
        score: Score,
        tasks: MakeTask | None = None,
        task_source: MakeSource | None = None,
        description: str = "",
        config_model: type[BaseModel] = NoConfig,
        start: Start = _params_as_state,
        evaluate: Evaluate | None = None,
        demonstrations: Demonstrate | None = None,
        ready: Ready | None = None,
        roles: Mapping[str, RoleSpec] | None = None,
        warmup_smoothing: float = 0.1,
        warmup_batch: int = 64,
        run_defaults: Mapping[str, Mapping[str, Any]] | None = None,
        stateful_source: bool = False,
        drawing: Build | None = None,
    ) -> None:
        self.name = name
        # What the game's rollouts need of the rest of the run (the search game's episodes are
        # seven tool loops, so a trainer step of 16 groups waits a minute): run-config sections
        # laid under the user's own settings, over the global defaults. The game's own section
        # is its config model's defaults, so it cannot be set here.
        self.run_defaults = {k: dict(v) for k, v in (run_defaults or {}).items()}
        misplaced = sorted(set(self.run_defaults) & {"game", "game_params", "run", "nats"})
        if misplaced:
            raise GameError(
                f"game {name!r}: run_defaults may not set {', '.join(misplaced)}; give "
                "run-config sections such as 'trainer' or 'worker' (game settings belong in "
                "the config model's defaults)"
            )
        # Label smoothing keeps a warmed-up model unsure enough to explore when demonstrations
        # show one answer per prompt (arith). A game whose demonstrations already spread over
        # several answers (Kuhn: every legal move) explores without it, and with it would play
        # the smoothed-in junk tokens as illegal moves, so a game may turn it down.
        if not 0 <= warmup_smoothing < 1:
            raise GameError(f"game {name!r}: warmup_smoothing is {warmup_smoothing}; use [0, 1)")
        self.warmup_smoothing = warmup_smoothing
        # A step costs its tokens: a game whose demonstrations are long (search trajectories,
        # ~100-300 tokens against arith's ~30) takes smaller batches to make steps, and steps
        # are what the warm-up's phase change is counted in (docs/learning.md).
        if warmup_batch < 1:
            raise GameError(f"game {name!r}: warmup_batch is {warmup_batch}; use at least 1")
        self.warmup_batch = warmup_batch
        try:
            self.roles: dict[str, RoleSpec] = {role_name(r): s for r, s in (roles or {}).items()}
        except ValueError as e:
            raise GameError(f"game {name!r}: {e}") from None
        self.description = description
        self.config_model = config_model
        if (tasks is None) == (task_source is None):
            raise GameError(
                f"game {name!r}: give `tasks` (a function (rng, cfg) -> task params) or "
                "`task_source` (a factory (cfg, seed) -> TaskSource, for a curriculum that "
                "adapts), exactly one"
            )
        self._tasks, self._source = tasks, task_source
        self._build, self._score, self._start = build, score, start
        self._evaluate, self._demonstrations = evaluate, demonstrations
        self._ready = ready
        # A task source with memory (the code game's buffer of valid tasks) is handed a folder
        # of the run directory, so a restarted worker continues from what it had.
        self.stateful_source = stateful_source
        # A node may call subgraphs from inside (hiersearch's planner calls its sub-agents from
        # its tool loop), which the played graph's edges cannot show: such a game gives a graph
        # built for drawing only, with the subgraphs as nodes where they are called.
        self._drawing = drawing

    def __repr__(self) -> str:
        return f"Game({self.name!r})"

    @property
    def has_evaluation(self) -> bool:
        """Whether the game measures a policy on a held-out set (`evaluate`)."""
        return self._evaluate is not None

    @property
    def has_demonstrations(self) -> bool:
        """Whether the game can supply supervised warm-up examples (`demonstrations`)."""
        return self._demonstrations is not None

    def build(self, policies: Policies, cfg: Any) -> Any:
        """The compiled graph, built once and reused for many concurrent episodes."""
        graph = self._build(policies, cfg)
        if not callable(getattr(graph, "astream", None)):
            raise GameError(
                f"game {self.name!r}: build returned {type(graph).__name__}, not a compiled "
                "graph; return StateGraph(...).compile()"
            )
        return graph

    def drawing(self, policies: Policies, cfg: Any) -> Any:
        """The compiled graph `sparring graph` draws: the game's drawing graph if it gives one
        (subgraphs as nodes), else the played graph."""
        if self._drawing is not None:
            return self._drawing(policies, cfg)
        return self.build(policies, cfg)

    def start(self, task: Task, cfg: Any) -> dict[str, Any]:
        """The graph's input state for `task`."""
        return self._start(task, cfg)

    def score(self, state: dict[str, Any], calls: Sequence[Call], cfg: Any) -> Scoring:
        """The reward rules, over the final state and every recorded call."""
        scored = self._score(state, calls, cfg)
        return scored if isinstance(scored, Scoring) else Scoring(payouts=list(scored))

    def task_source(self, cfg: Any, seed: int = 0, state_dir: Path | None = None) -> TaskSource:
        """A fresh task source (each worker has its own, seeded differently). A game with
        `stateful_source` gets `state_dir` (the worker's folder in the run directory, None: keep
        nothing) and keeps its state there across restarts; other games ignore it."""
        if self._source is not None:
            if self.stateful_source:
                return self._source(cfg, seed, state_dir)
            return self._source(cfg, seed)
        assert self._tasks is not None
        return _FunctionSource(self._tasks, cfg, seed)

    async def evaluate(self, policy: Policy, cfg: Any) -> dict[str, float]:
        """Held-out figures of `policy` (e.g. solver accuracy per difficulty).

        The contract the dashboard, the final table and `plots/eval.png` read: a flat dict of
        floats whose keys may name groups with '/', `group/label` (arith: `acc_greedy/d1` and
        `acc_sampled/d1`; a two-seat game: `win_rate/random/seat0`). Each group is a column of
        the table and a line style of the plot, each label a row and a colour, sorted naturally
        (d2 before d10); a key without '/' stands alone. Any names work; no key is required.
        """
        if self._evaluate is None:
            raise GameError(f"game {self.name!r} has no held-out evaluation; run without eval")
        return await self._evaluate(policy, cfg)

    @property
    def has_ready_check(self) -> bool:
        """Whether the game can tell when a warm-up is done (`ready`)."""
        return self._ready is not None

    async def ready(self, policy: Policy, cfg: Any) -> bool:
        """Whether a warming-up policy is ready for RL (no check: False, warm up to the cap)."""
        return (await self.readiness(policy, cfg)).ready

    async def readiness(self, policy: Policy, cfg: Any) -> Readiness:
        """The readiness check's answer with its figures (none when the game's check returns
        a bare bool)."""
        if self._ready is None:
            return Readiness(ready=False)
        said = await self._ready(policy, cfg)
        return said if isinstance(said, Readiness) else Readiness(ready=bool(said))

    def demonstrations(self, rng: random.Random, cfg: Any) -> Example:
        """One supervised warm-up example: a prompt and the completion to learn."""
        if self._demonstrations is None:
            raise GameError(
                f"game {self.name!r} has no demonstrations to warm up on; start from a model "
                "that already knows the answer format, or set warm-up to 0 seconds"
            )
        return self._demonstrations(rng, cfg)
