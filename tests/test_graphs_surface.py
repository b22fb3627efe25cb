"""The public surface a game author imports is small, listed in `__all__`, and pinned here.

A change to this list is an API change: make it on purpose, with docs/writing-a-game.md.
"""

from __future__ import annotations

import sparring.graphs

GAME_AUTHOR_SURFACE = {
    # what a game is made of
    "Game",
    "Policies",
    "Payout",
    "RoleSpec",
    # as a game grows
    "Readiness",
    "Scoring",
    "Verdict",
    "Call",
    "ChatMessage",
    "SamplingParams",
    "Task",
    "TaskSource",
    "EpisodeOutcome",
    "NoConfig",
    # what a worker, a test or a notebook uses to play one
    "BUILTIN_GAMES",
    "builtin_games",
    "load_game",
    "play_episode",
}


def test_sparring_graphs_exports_exactly_the_game_authors_surface() -> None:
    assert set(sparring.graphs.__all__) == GAME_AUTHOR_SURFACE
    assert all(hasattr(sparring.graphs, name) for name in GAME_AUTHOR_SURFACE)


def test_recording_internals_are_not_part_of_it() -> None:
    for internal in ("Recorder", "RecordingPolicy", "recording", "current_recorder"):
        assert internal not in sparring.graphs.__all__
