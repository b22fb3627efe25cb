"""Errors of the weight-transfer layer.

    WeightsError (a SparringError)
    └── WeightsUnavailable    no way to get a version worked: each way tried, and why it failed

A worker that meets `WeightsUnavailable` keeps serving the version it has and says so.
"""

from __future__ import annotations

from sparring.errors import SparringError

__all__ = ["WeightsError", "WeightsUnavailable"]


class WeightsError(SparringError):
    """Something about publishing or fetching weights went wrong."""


class WeightsUnavailable(WeightsError):
    """Version `version` could not be fetched and verified by any way it was announced."""

    def __init__(self, version: int, reasons: list[str], missing: bool = False) -> None:
        self.version = version
        self.reasons = reasons
        self.missing = missing  # every way failed because the blob was gone (not corrupt)
        super().__init__(f"weights v{version} unavailable: " + "; ".join(reasons))
