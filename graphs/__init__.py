"""Games: LangGraph graphs of roles, with their task source and reward rules.

The surface a rollout worker uses:

    game = load_game("arith")            # or "path/to/game.py", or "module:attr"
    cfg = game.config_model.model_validate(section)
    graph = game.build(Policies(default=policy), cfg)      # compiled once, reused
    source = game.task_source(cfg, seed=0)
    outcome = await play_episode(game, graph, Task(run=..., game=game.name,
                                 params=source.next_params()), cfg, worker="w0")
    source.observe(outcome)
"""

from sparring.graphs.episode import EpisodeOutcome, play_episode
from sparring.graphs.game import Game, Payout, Scoring, TaskSource
from sparring.graphs.loading import BUILTIN_GAMES, builtin_games, load_game
from sparring.graphs.policies import Policies
from sparring.graphs.recording import Recorder, RecordingPolicy, current_recorder, recording

__all__ = [
    "BUILTIN_GAMES",
    "EpisodeOutcome",
    "Game",
    "Payout",
    "Policies",
    "Recorder",
    "RecordingPolicy",
    "Scoring",
    "TaskSource",
    "builtin_games",
    "current_recorder",
    "load_game",
    "play_episode",
    "recording",
]
