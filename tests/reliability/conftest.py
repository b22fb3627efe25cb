"""Fixtures of the reliability suite: one model cache for every run it starts.

The runs play arith with the tiny offline model and no warm-up: the faults, not the learning,
are under test, and the trainer still steps on the proposer's samples (its running baseline
needs no group), so there are checkpoints to resume from.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SPARRING_CACHE of the suite's runs: the tiny model is built once, by the first run."""
    return tmp_path_factory.mktemp("cache")
