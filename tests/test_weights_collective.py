"""The GPU-to-GPU path's protocol and timeouts, over gloo on CPU (the code NCCL would run; no
GPU here, so NCCL itself is untested): two members in threads, a real TCPStore on loopback."""

from __future__ import annotations

import socket
import threading

import pytest
import torch

from sparring.weights.collective import Collective, CollectiveTimeout, unavailable


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_nccl_is_refused_with_a_reason_where_there_is_no_cuda() -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is here")
    assert "CUDA" in (unavailable("nccl") or "")
    with pytest.raises(Exception, match="no nccl collective here"):
        Collective("127.0.0.1", _port(), 0, 2, backend="nccl")


def test_rank_0_broadcasts_every_tensor_to_a_worker() -> None:
    port, got = _port(), {}

    def member(rank: int) -> None:
        c = Collective("127.0.0.1", port, rank, 2, backend="gloo", timeout_s=10)
        sent = rank == 0
        t = {"a": torch.arange(10.0) * sent, "b": torch.full((3, 2), 7.0 * sent)}
        c.broadcast(t)
        got[rank] = t

    threads = [threading.Thread(target=member, args=(r,)) for r in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert torch.equal(got[1]["a"], torch.arange(10.0))
    assert torch.equal(got[1]["b"], torch.full((3, 2), 7.0))


def test_a_group_whose_workers_never_come_fails_in_its_timeout_instead_of_hanging() -> None:
    with pytest.raises(CollectiveTimeout, match="did not form"):
        Collective("127.0.0.1", _port(), 0, 2, backend="gloo", timeout_s=1)


def test_a_worker_whose_trainer_stops_sending_times_out_cleanly() -> None:
    port, errors = _port(), []

    def trainer() -> None:
        Collective("127.0.0.1", port, 0, 2, backend="gloo", timeout_s=2)  # joins, sends nothing

    def worker() -> None:
        c = Collective("127.0.0.1", port, 1, 2, backend="gloo", timeout_s=2)
        try:
            c.broadcast({"a": torch.zeros(4)})
        except CollectiveTimeout as e:
            errors.append(e)

    threads = [threading.Thread(target=trainer), threading.Thread(target=worker)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(errors) == 1 and "'a'" in str(errors[0])
