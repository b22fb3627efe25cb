"""Games: LangGraph graphs of roles, with their task source and reward rules.

What a game author imports (pinned by tests/test_graphs_surface.py; docs/writing-a-game.md walks
through it):

    from sparring.graphs import Game, Payout, Policies, RoleSpec

plus, as a game grows: `Scoring` and `Verdict` (checked outcomes and per-episode figures for the
record), `Call` (what `score` receives), `ChatMessage`, `SamplingParams`, `Task`, `TaskSource`
and `EpisodeOutcome` (an adaptive curriculum), `NoConfig`, `Readiness` (a warm-up check
that reports its figures). A worker uses the rest:

    game = load_game("arith")            # or "path/to/game.py", or "module:attr"
    cfg = game.config_model.model_validate(section)
    graph = game.build(Policies(default=policy), cfg)      # compiled once, reused
    source = game.task_source(cfg, seed=0)
    outcome = await play_episode(game, graph, Task(run=..., game=game.name,
                                 params=source.next_params()), cfg, worker="w0")
    source.observe(outcome)

Recording internals live in `sparring.graphs.recording`.
"""

from sparring.credit import RoleSpec
from sparring.graphs.episode import EpisodeOutcome, play_episode
from sparring.graphs.game import Game, NoConfig, Payout, Readiness, Scoring, TaskSource
from sparring.graphs.loading import BUILTIN_GAMES, builtin_games, load_game
from sparring.graphs.policies import Policies
from sparring.messages import ChatMessage, Task, Verdict
from sparring.policy.base import SamplingParams
from sparring.roles.call import Call

__all__ = [
    "BUILTIN_GAMES",
    "Call",
    "ChatMessage",
    "EpisodeOutcome",
    "Game",
    "NoConfig",
    "Payout",
    "Policies",
    "Readiness",
    "RoleSpec",
    "SamplingParams",
    "Scoring",
    "Task",
    "TaskSource",
    "Verdict",
    "builtin_games",
    "load_game",
    "play_episode",
]
