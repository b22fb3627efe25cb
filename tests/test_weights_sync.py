"""Weight transfer end to end: every way a version reaches a worker, and every way it fails.

Real nats-server (the session's), the real tiny model served by TransformersPolicy; the
trainer's own loop where the weights must be the trainer's. A worker "on another machine" is
this one with `host_id` patched to another name, so it cannot take the same-host file.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import msgpack
import pytest
import torch
from safetensors.torch import load, save
from test_trainer_support import build_model_dir, group

from sparring.bus import Bus
from sparring.messages import Metric, PolicyVersion
from sparring.policy import ScriptedPolicy, TransformersPolicy
from sparring.trainer import Trainer, TrainerConfig
from sparring.trainer.model import trained_state
from sparring.weights import (
    SyncConfig,
    WeightsFetcher,
    WeightsPublisher,
    delta_name,
    load_announced,
    object_name,
)
from sparring.weights import fetcher as fetcher_module
from sparring.weights._delta import DeltaError, apply_delta, make_delta


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(2)
    return build_model_dir(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def versions(model_dir: Path) -> list[bytes]:
    """Safetensors bytes of versions 1..6 of the tiny model: each a small step from the last."""
    from transformers import AutoModelForCausalLM

    state = trained_state(AutoModelForCausalLM.from_pretrained(model_dir))
    gen = torch.Generator().manual_seed(0)
    out = []
    for _ in range(6):
        state = {k: v + 1e-3 * torch.randn(v.shape, generator=gen) for k, v in state.items()}
        state["lm_head.weight"] = state["model.embed_tokens.weight"].clone()  # tied, as trained
        out.append(bytes(save(state)))
    return out


@pytest.fixture
def elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """This test's fetchers run "on another machine": no same-host file for them."""
    monkeypatch.setattr(fetcher_module, "host_id", lambda: "another-machine/0")


def _serves(policy: TransformersPolicy, data: bytes) -> bool:
    """Whether every weight of the policy's model equals the tensors in `data`."""
    own = policy.model.state_dict()
    return all(torch.equal(own[k], v) for k, v in load(data).items())


async def _publish(
    bus: Bus, tmp: Path, data: list[bytes], keep_objects: int = 8, **sync: object
) -> tuple[WeightsPublisher, list[PolicyVersion]]:
    config = SyncConfig(dir=str(tmp / "weights"), **sync)  # type: ignore[arg-type]
    publisher = WeightsPublisher(bus, config, tmp / "run", keep_objects)
    return publisher, [await publisher.publish(i + 1, i + 1, d) for i, d in enumerate(data)]


async def test_the_trainers_step_reaches_a_same_host_worker_by_file_exactly_and_digest_checked(
    bus: Bus, model_dir: Path, tmp_path: Path
) -> None:
    sync = SyncConfig(dir=str(tmp_path / "weights"))
    trainer = Trainer(TrainerConfig(device="cpu", batch_groups=1, lr=1e-3, sync=sync),
                      model_dir, tmp_path / "run", bus)  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(trainer.run(stop))
    await bus.publish_many(group("g1", [1.0, 0.0, 0.5], run=bus.run))
    pv = None
    for _ in range(400):
        pv = await bus.get_policy()
        if pv is not None and pv.version >= 1 and pv.weights:
            break
        await asyncio.sleep(0.05)
    assert pv is not None and pv.version == 1 and pv.digest.startswith("xxh3_128:")
    assert Path(pv.file).parent == tmp_path / "weights" and pv.delta == ""  # nothing before it
    policy = TransformersPolicy(model_dir)
    fetcher = WeightsFetcher(bus, policy, tmp_path / "worker")
    loaded = await fetcher.load(pv)
    assert loaded is not None and loaded.way == "file" and policy.version == 1
    stop.set()
    await task
    trained = trained_state(trainer.model)
    own = policy.model.state_dict()
    assert all(torch.equal(own[k], trained[k]) for k in trained)
    assert not (tmp_path / "worker").exists()  # a file-fed worker caches nothing
    await policy.aclose()


async def test_a_worker_elsewhere_gets_the_whole_weights_over_the_bus_then_each_step_as_a_delta(
    bus: Bus, model_dir: Path, tmp_path: Path, versions: list[bytes], elsewhere: None
) -> None:
    _, pvs = await _publish(bus, tmp_path, versions[:3])
    assert pvs[0].delta == "" and pvs[1].delta == delta_name(2)
    assert 0 < pvs[1].delta_bytes < 0.8 * pvs[1].size_bytes
    policy = TransformersPolicy(model_dir)
    fetcher = WeightsFetcher(bus, policy, tmp_path / "worker")  # its cache: /dev/shm if room
    try:
        ways = []
        for pv, data in zip(pvs, versions, strict=False):
            loaded = await fetcher.load(pv)
            assert loaded is not None and _serves(policy, data)
            ways.append(loaded.way)
        assert ways == ["bus", "delta", "delta"] and policy.version == 3
        assert fetcher.cache is not None
        cached = sorted(p.name for p in fetcher.cache.iterdir())
        assert cached == ["policy-v3.safetensors"]  # the next delta's base; the older removed
    finally:
        folder = fetcher.cache
        fetcher.close()
        await policy.aclose()
    assert folder is not None and (not folder.exists() or not any(folder.iterdir()))


async def test_a_worker_several_versions_behind_takes_the_whole_weights_not_a_delta(
    bus: Bus, model_dir: Path, tmp_path: Path, versions: list[bytes], elsewhere: None
) -> None:
    _, pvs = await _publish(bus, tmp_path, versions[:4])
    policy = TransformersPolicy(model_dir)
    fetcher = WeightsFetcher(bus, policy, cache_dir=tmp_path / "cache")
    first = await fetcher.load(pvs[0])
    latest = await fetcher.load(pvs[3])  # v2 and v3 never seen: the v4 delta needs v3
    assert first is not None and latest is not None and latest.way == "bus"
    assert policy.version == 4 and _serves(policy, versions[3])
    fetcher.close()
    await policy.aclose()


async def test_a_late_worker_whose_announced_version_was_removed_loads_the_current_one(
    bus: Bus, model_dir: Path, tmp_path: Path, versions: list[bytes], elsewhere: None
) -> None:
    _, pvs = await _publish(bus, tmp_path, versions[:4], keep_objects=2)
    policy = TransformersPolicy(model_dir)
    loaded = await load_announced(bus, policy, pvs[0])  # v1 is gone from the store
    assert loaded is not None and loaded.version == 4 and loaded.way == "bus"
    assert policy.version == 4 and _serves(policy, versions[3])
    await policy.aclose()


async def _unavailable(metrics: object) -> Metric:
    while True:
        m = await asyncio.wait_for(anext(metrics), 10)  # type: ignore[call-overload]
        if "weights_unavailable" in m.values:
            return m  # type: ignore[no-any-return]


async def test_a_corrupt_version_is_never_served_the_worker_keeps_its_last_one_and_says_so(
    bus: Bus, model_dir: Path, tmp_path: Path, versions: list[bytes]
) -> None:
    _, pvs = await _publish(bus, tmp_path, versions[:2])
    policy = TransformersPolicy(model_dir)
    fetcher = WeightsFetcher(bus, policy, cache_dir=tmp_path / "cache")
    await load_announced(bus, policy, pvs[0], fetcher)
    # Every copy of v2 damaged: the file (same size, one bit), the whole object and the delta.
    bad = bytearray(versions[1])
    bad[len(bad) // 2] ^= 1
    await asyncio.to_thread(Path(pvs[1].file).write_bytes, bad)
    await bus.put_object(object_name(2), bytes(bad))
    await bus.put_object(delta_name(2), b"SPDELTA1 not zstd")
    metrics = bus.follow(Metric, from_start=True)
    assert await load_announced(bus, policy, pvs[1], fetcher) is None
    assert policy.version == 1 and _serves(policy, versions[0])  # the old version, whole
    said = await _unavailable(metrics)
    assert said.source == "test" and said.values["wanted_version"] == 2
    assert said.values["policy_version"] == 1 and "corrupt" in said.note
    assert "digest" in said.note and "delta" in said.note
    await metrics.aclose()  # type: ignore[attr-defined]
    fetcher.close()
    await policy.aclose()


async def test_a_missing_version_with_nothing_newer_leaves_the_worker_on_its_last_one(
    bus: Bus, model_dir: Path, tmp_path: Path, versions: list[bytes]
) -> None:
    _, pvs = await _publish(bus, tmp_path, versions[:2], delta=False)
    policy = TransformersPolicy(model_dir)
    await load_announced(bus, policy, pvs[0])
    await asyncio.to_thread(Path(pvs[1].file).unlink)
    await bus.delete_object(object_name(2))
    metrics = bus.follow(Metric, from_start=True)
    assert await load_announced(bus, policy, pvs[1]) is None
    assert policy.version == 1 and _serves(policy, versions[0])
    said = await _unavailable(metrics)
    assert "is gone" in said.note and "no object 'policy-v2'" in said.note
    await metrics.aclose()  # type: ignore[attr-defined]
    await policy.aclose()


async def test_a_same_host_file_that_is_corrupt_falls_back_to_the_bus_copy(
    bus: Bus, model_dir: Path, tmp_path: Path, versions: list[bytes]
) -> None:
    _, pvs = await _publish(bus, tmp_path, versions[:1])
    await asyncio.to_thread(Path(pvs[0].file).write_bytes, versions[0][:-10] + b"\x00" * 10)
    policy = TransformersPolicy(model_dir)
    loaded = await load_announced(bus, policy, pvs[0])
    assert loaded is not None and loaded.way == "bus" and _serves(policy, versions[0])
    await policy.aclose()


async def test_the_file_is_announced_before_the_bus_copy_and_a_worker_elsewhere_waits_for_it(
    bus: Bus, tmp_path: Path, versions: list[bytes], elsewhere: None
) -> None:
    seen: list[PolicyVersion] = []

    async def watch() -> None:
        async for pv in bus.watch_policy():
            seen.append(pv)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    await _publish(bus, tmp_path, versions[:1])
    for _ in range(100):
        if len(seen) >= 2:
            break
        await asyncio.sleep(0.02)
    watcher.cancel()
    first, second = seen[:2]
    assert first.version == second.version == 1
    assert first.file and not first.weights and second.weights == object_name(1)
    policy = ScriptedPolicy(lambda m: "1")
    assert await WeightsFetcher(bus, policy).load(first) is None  # nothing for it yet
    assert policy.loaded == []


async def test_old_files_objects_and_deltas_are_removed_as_new_versions_come(
    bus: Bus, tmp_path: Path, versions: list[bytes]
) -> None:
    publisher, _ = await _publish(bus, tmp_path, versions[:5], keep_objects=3, keep_files=2)
    files = sorted(p.name for p in (tmp_path / "weights").iterdir())
    assert files == ["policy-v4.safetensors", "policy-v5.safetensors"]

    async def stored(name: str) -> bool:
        try:
            await bus.get_object(name)
        except Exception:
            return False
        return True

    assert [await stored(object_name(v)) for v in range(1, 6)] == [False, False, True, True, True]
    assert [await stored(delta_name(v)) for v in range(2, 6)] == [False, False, True, True]
    publisher.close()  # not in /dev/shm: a run folder keeps its files
    assert (tmp_path / "weights" / "policy-v5.safetensors").exists()


async def test_a_schema_6_policy_version_is_still_read_and_checked_by_its_sha256(
    bus: Bus,
) -> None:
    import hashlib

    data = b"weights of an old trainer"
    info = await bus.put_object("old-v1", data)
    old = {"kind": "policy_version", "schema_version": 6, "id": "x", "run": bus.run,
           "version": 1, "step": 1, "weights": "old-v1", "format": "full",
           "size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
           "created_at": 0.0}  # fmt: skip
    pv = PolicyVersion.model_validate(msgpack.unpackb(msgpack.packb(old)))
    assert pv.sha256 == info.sha256 and pv.digest == "" and pv.file == ""
    policy = ScriptedPolicy(lambda m: "1")
    assert await load_announced(bus, policy, pv) is not None and policy.version == 1
    wrong = pv.model_copy(update={"version": 2, "sha256": "0" * 64})
    assert await load_announced(bus, policy, wrong) is None and policy.version == 1


def test_a_delta_rebuilds_the_new_weights_byte_for_byte_and_refuses_other_weights(
    versions: list[bytes],
) -> None:
    old, new = versions[0], versions[1]
    delta = make_delta(old, new)
    assert delta is not None and len(delta) < len(new)
    out = bytearray()
    assert apply_delta(old, delta, out.extend) == len(new) and bytes(out) == new
    assert make_delta(old, new[:-4]) is None  # another size: no delta
    with pytest.raises(DeltaError):
        apply_delta(old, delta[:-100], bytearray().extend)
    with pytest.raises(DeltaError):
        apply_delta(old, b"not a delta", bytearray().extend)


async def test_objects_we_write_read_back_with_nats_py_own_object_store(bus: Bus) -> None:
    import io

    data = bytes(range(256)) * 40_000  # ~10 MB: more than one chunk
    await bus.put_object("compat", data)
    obs = await bus._js.object_store(bus.names.weights_bucket)
    buf = io.BytesIO()
    result = await obs.get("compat", writeinto=buf)  # checks the SHA-256 we wrote
    assert buf.getvalue() == data and result.info.size == len(data)
    meta = json.loads(json.dumps(result.info.as_dict()))
    assert meta["chunks"] >= 2
