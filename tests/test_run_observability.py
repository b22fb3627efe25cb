"""Metrics where researchers look: a short real run writes TensorBoard events and a W&B run.

One short arith run (tiny model, embedded NATS, trainer and worker processes) with
`loop.wandb` set in offline mode (WANDB_MODE=offline as well: nothing leaves the machine). What
must hold: TensorBoard's own reader (EventAccumulator) finds every value of metrics.jsonl under
`<source>/<name>` at the record's step, and the offline W&B run directory holds the same keys.
"""

from __future__ import annotations

import json
import struct
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_loop_e2e import _SETTINGS
from test_trainer_support import run_sparring

from sparring.metric_sinks import TB_DIR

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("sinks")
    run_dir = root / "run"
    args = ["run", "arith", "--minutes", "0.5", "--run-dir", str(run_dir), "--no-inspector"]
    wandb = ["--set", "loop.wandb.project=sparring-test", "--set", "loop.wandb.mode=offline"]
    # The model cache is shared with test_export.py (the same warm-up settings): one warm-up.
    cache = tmp_path_factory.getbasetemp() / "short-run-cache"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WANDB_MODE", "offline")
        env.setenv("WANDB_SILENT", "true")
        env.delenv("WANDB_API_KEY", raising=False)
        r = run_sparring([*args, *wandb, *_SETTINGS], cache, timeout=900)  # warm-up on a busy box
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return run_dir, r.stdout


def _jsonl(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """metrics.jsonl as `<source>/<name>` -> [(step, value), ...]."""
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        m = json.loads(line)
        for name, value in m["values"].items():
            series[f"{m['source']}/{name}"].append((m["step"], value))
    return series


def test_tensorboard_events_hold_every_metric_under_its_name_and_step(
    run: tuple[Path, str],
) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir, _ = run
    events = EventAccumulator(str(run_dir / TB_DIR), size_guidance={"scalars": 0})
    events.Reload()
    expected = _jsonl(run_dir)
    assert {"trainer/loss", "worker-0/episodes"} <= set(expected)
    assert any(tag.startswith("eval/acc_greedy/d") for tag in expected)
    assert set(events.Tags()["scalars"]) == set(expected)
    for tag, points in expected.items():
        got = [(e.step, e.value) for e in events.Scalars(tag)]
        assert [s for s, _ in got] == [s for s, _ in points], tag
        # TensorBoard stores float32
        assert [v for _, v in got] == pytest.approx([v for _, v in points], rel=1e-6), tag


def _wandb_records(path: Path) -> Iterator[bytes]:
    """The records of a `.wandb` file. wandb 0.31 ships no Python reader of its transaction
    log (its Go core reads it); the framing is LevelDB's log format: a 7-byte file header,
    32 KiB blocks, each record chunk a (crc32c, length, type) header then its bytes."""
    data = path.read_bytes()
    assert data[:4] == b":W&B", "not a W&B transaction log"
    pos, pending, block = 7, b"", 32 * 1024
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack_from("<IHB", data, pos)
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST: the record is whole
            yield pending
            pending = b""


def test_an_offline_wandb_run_holds_the_same_metrics(run: tuple[Path, str]) -> None:
    from wandb.proto import wandb_internal_pb2 as pb

    run_dir, _ = run
    (log,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    logged: dict[str, list[float]] = defaultdict(list)
    config = None
    for data in _wandb_records(log):
        record = pb.Record()
        record.ParseFromString(data)
        if record.WhichOneof("record_type") == "history":
            for item in record.history.item:
                key = item.key or "/".join(item.nested_key)
                logged[key].append(json.loads(item.value_json))
        elif record.WhichOneof("record_type") == "run":
            config = {
                i.key or "/".join(i.nested_key): i.value_json for i in record.run.config.update
            }
    expected = _jsonl(run_dir)
    assert set(expected) <= set(logged)
    for key, points in expected.items():
        assert logged[key] == pytest.approx([v for _, v in points]), key
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    # each source on its own step axis, as in metrics.jsonl
    assert logged["trainer/step"] == [m["step"] for m in records if m["source"] == "trainer"]
    assert config is not None and json.loads(config["game"]) == "arith"  # the run's config
