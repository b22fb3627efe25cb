"""GPU to GPU: the weights broadcast from the trainer's rank to the inference engines.

Design (as TRL's vLLM server mode and verl do; not yet wired into the trainer or the worker):
- One process group per run beside any training group: rank 0 is the trainer's rank 0, ranks
  1..N the workers' engines. It is built from a `TCPStore` the trainer hosts at the address a
  `PolicyVersion.broadcast` names ("tcp://host:port"), with `ProcessGroupNCCL(store, rank,
  size)` directly, so it never touches the default group FSDP uses.
- Per version the bus carries only the announcement (digest, names, shapes, dtypes in order);
  rank 0 broadcasts each tensor, the workers receive into buffers and load them as a mapping.
- Every wait has a timeout (`Work.wait(timeout)`): a worker that died or never joined makes the
  broadcast fail with `CollectiveTimeout` in `timeout_s`, never hang (TRL issues 6796/6797).
  After a timeout the group is abandoned, and workers fall back to the bus copy.
- Used only where `unavailable()` is None: torch.distributed with the backend, and CUDA for
  NCCL. The same code runs over gloo on CPU, which is how it is tested here: the protocol and
  the timeout, not NCCL's speed (no GPU was lent to this work).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from sparring.weights.errors import WeightsError

__all__ = ["Collective", "CollectiveTimeout", "unavailable"]


class CollectiveTimeout(WeightsError):
    """A broadcast did not complete within its timeout."""


def unavailable(backend: str = "nccl") -> str | None:
    """Why a collective over `backend` cannot run here, or None when it can."""
    try:
        import torch
        import torch.distributed as dist
    except ImportError:
        return "torch is not installed"
    if not dist.is_available():
        return "this torch build has no torch.distributed"
    if backend == "nccl":
        if not torch.cuda.is_available():
            return "NCCL needs CUDA, and no CUDA device is visible"
        if not dist.is_nccl_available():
            return "this torch build has no NCCL"
    elif backend == "gloo" and not dist.is_gloo_available():
        return "this torch build has no gloo"
    return None


class Collective:
    """One member of the run's weights group (rank 0: the trainer)."""

    def __init__(
        self, host: str, port: int, rank: int, world: int, backend: str = "nccl",
        timeout_s: float = 30.0,
    ) -> None:  # fmt: skip
        reason = unavailable(backend)
        if reason is not None:
            raise WeightsError(f"no {backend} collective here: {reason}")
        import torch.distributed as dist

        self.rank, self.world, self.timeout_s = rank, world, timeout_s
        timeout = datetime.timedelta(seconds=timeout_s)
        try:
            store = dist.TCPStore(host, port, world, is_master=rank == 0, timeout=timeout)
        except (RuntimeError, OSError) as e:  # the others never came: a timeout, not a hang
            raise CollectiveTimeout(f"the weights group at {host}:{port} did not form: {e}") from e
        if backend == "nccl":
            self._pg: Any = dist.ProcessGroupNCCL(store, rank, world)
        else:
            self._pg = dist.ProcessGroupGloo(store, rank, world, timeout)

    def broadcast(self, tensors: Mapping[str, Any]) -> None:
        """Send (rank 0) or receive into (others) `tensors`, in the order of their names;
        CollectiveTimeout if any does not complete in time."""
        import torch.distributed as dist

        for name in sorted(tensors):
            opts = dist.BroadcastOptions()
            opts.rootRank = 0
            work = self._pg.broadcast([tensors[name]], opts)
            try:
                done = work.wait(datetime.timedelta(seconds=self.timeout_s))
            except RuntimeError as e:
                raise CollectiveTimeout(f"broadcast of {name!r} failed: {e}") from e
            if done is False:
                raise CollectiveTimeout(f"broadcast of {name!r}: no answer in {self.timeout_s} s")
