"""Where researchers look: a short real run writes TensorBoard events, a W&B run and traces.

One short arith run (tiny model, embedded NATS, trainer and worker processes) with
`loop.wandb` set in offline mode (WANDB_MODE=offline as well: nothing leaves the machine) and
`loop.otlp_endpoint` pointing at a real OTLP/HTTP receiver on 127.0.0.1 that this test starts.
What must hold: TensorBoard's own reader (EventAccumulator) finds every value of metrics.jsonl
under `<source>/<name>` at the record's step; the offline W&B run directory holds the same keys;
every episode arrives as one trace, a root span over node spans over model-call spans that carry
the GenAI semantic-convention attributes.
"""

from __future__ import annotations

import gzip
import json
import struct
import threading
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from test_loop_e2e import _SETTINGS
from test_trainer_support import run_sparring

from sparring.metric_sinks import TB_DIR

pytestmark = pytest.mark.slow


class _OtlpReceiver(BaseHTTPRequestHandler):
    """A minimal real OTLP/HTTP receiver: decodes each protobuf export request with
    opentelemetry-proto's own messages and answers as a collector does."""

    received: ClassVar[list[tuple[str, Any]]] = []

    def do_POST(self) -> None:
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as otlp

        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = otlp.ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.received.append((self.path, request))
        reply = otlp.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtlpReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, receiver: ThreadingHTTPServer
) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("sinks")
    run_dir = root / "run"
    args = ["run", "arith", "--minutes", "0.5", "--run-dir", str(run_dir), "--no-inspector"]
    wandb = ["--set", "loop.wandb.project=sparring-test", "--set", "loop.wandb.mode=offline"]
    # a bare host: /v1/traces is added, as for a Collector's or Jaeger's default endpoint
    otlp = ["--set", f"loop.otlp_endpoint=http://127.0.0.1:{receiver.server_address[1]}"]
    # The model cache is shared with test_export.py (the same warm-up settings): one warm-up.
    cache = tmp_path_factory.getbasetemp() / "short-run-cache"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WANDB_MODE", "offline")
        env.setenv("WANDB_SILENT", "true")
        env.delenv("WANDB_API_KEY", raising=False)
        env.setenv("NO_PROXY", "127.0.0.1")  # the receiver is local, whatever proxy is set
        r = run_sparring([*args, *wandb, *otlp, *_SETTINGS], cache, timeout=900)  # busy box
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


def _attributes(span: Any) -> dict[str, Any]:
    """An OTLP span's attributes as plain values."""
    out: dict[str, Any] = {}
    for a in span.attributes:
        kind = a.value.WhichOneof("value")
        if kind == "array_value":
            out[a.key] = [v.string_value for v in a.value.array_value.values]
        else:
            out[a.key] = getattr(a.value, kind)
    return out


def test_each_episode_is_one_trace_of_node_and_model_call_spans(run: tuple[Path, str]) -> None:
    run_dir, stdout = run
    received = _OtlpReceiver.received
    assert received, stdout[-2000:]
    assert {path for path, _ in received} == {"/v1/traces"}
    traces: dict[bytes, list[Any]] = defaultdict(list)
    for _, request in received:
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            assert resource["service.name"] == "sparring"
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    traces[span.trace_id].append(span)
    episodes = sum(
        m["values"].get("episodes", 0)
        for m in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
        if m["source"] == "worker-0"
    )
    assert 0 < len(traces) <= episodes
    roles: set[str] = set()
    for spans in traces.values():
        (root,) = [s for s in spans if not s.parent_span_id]
        assert root.name == "episode arith"
        assert _attributes(root)["sparring.episode.id"]
        by_id = {s.span_id: s for s in spans}
        nodes = [s for s in spans if s.name.startswith("node ")]
        calls = [s for s in spans if s.name.startswith("chat ")]
        assert nodes and calls and 1 + len(nodes) + len(calls) == len(spans)
        assert all(s.parent_span_id == root.span_id for s in nodes)
        for call in calls:
            attributes = _attributes(call)
            parent = by_id[call.parent_span_id]
            assert parent.name == f"node {attributes['sparring.node']}"  # the node it ran in
            assert attributes["gen_ai.operation.name"] == "chat"
            assert attributes["gen_ai.usage.input_tokens"] > 0
            assert attributes["gen_ai.usage.output_tokens"] > 0
            assert attributes["gen_ai.response.finish_reasons"][0] in {"stop", "length"}
            assert call.name == f"chat {attributes['gen_ai.agent.name']}"
            assert root.start_time_unix_nano <= call.start_time_unix_nano
            assert call.end_time_unix_nano <= root.end_time_unix_nano
            roles.add(attributes["gen_ai.agent.name"])
    # The briefly warmed-up model's proposals are mostly invalid, so solvers may not have run.
    assert "proposer" in roles
