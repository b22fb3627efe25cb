"""Episodes as OpenTelemetry traces: one trace per episode, a span per graph node and per call.

With `loop.otlp_endpoint` set, `sparring run` follows the run's episode stream and exports every
new `Episode` over OTLP/HTTP (protobuf), so Phoenix, Langfuse, Jaeger or an OpenTelemetry
Collector shows each game as a trace:

    episode <game>          root: sparring.* attributes (episode id, worker, version, rewards)
      node <name>           one per graph node visited (`Episode.path`)
        chat <role>         one per policy call made in that node (`Episode.turns`)

The spans are built after the fact from the timings the Episode already records (each node's
start and wall time, each call's start and duration), so the games carry no instrumentation and
no worker talks to a trace backend; the spans keep the recorded times. A model call follows the
OpenTelemetry GenAI semantic conventions: `gen_ai.operation.name` "chat",
`gen_ai.request.model`, `gen_ai.usage.input_tokens` / `output_tokens`,
`gen_ai.response.finish_reasons`, and the role as `gen_ai.agent.name`. Prompts and completions
are not attached (the conventions make them opt-in; the inspector shows them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from sparring.bus import Bus
from sparring.messages import Episode, NodeTiming, Turn

__all__ = ["EpisodeTracer", "export_episodes", "traces_url"]

_NS = 1_000_000_000


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL: `endpoint` as given, or with `/v1/traces` when it names only
    a host (http://localhost:4318 is the Collector's and Jaeger's default)."""
    return endpoint if urlsplit(endpoint).path.strip("/") else endpoint.rstrip("/") + "/v1/traces"


def _ns(seconds: float) -> int:
    return int(seconds * _NS)


class EpisodeTracer:
    """Turns Episodes into spans and exports them in batches over OTLP/HTTP."""

    def __init__(self, endpoint: str, run: str, model: str) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self.url = traces_url(endpoint)
        self.model = model
        resource = Resource.create({"service.name": "sparring", "sparring.run": run})
        # Its own provider, not the global one: a user's own tracing setup stays untouched.
        self._provider = TracerProvider(resource=resource)
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=self.url)))
        self._tracer = self._provider.get_tracer("sparring.episode_traces")

    def record(self, episode: Episode) -> None:
        """One trace: the episode's root span, its nodes under it, each call under its node."""
        from opentelemetry import trace
        from opentelemetry.context import Context

        start = episode.started_at
        root = self._tracer.start_span(
            f"episode {episode.game}",
            context=Context(),  # no parent: a trace of its own
            start_time=_ns(start),
            attributes=_episode_attributes(episode),
        )
        under_root = trace.set_span_in_context(root)
        nodes = []
        for timing in episode.path:
            span = self._tracer.start_span(
                f"node {timing.node}",
                context=under_root,
                start_time=_ns(timing.started_at),
                attributes={"sparring.node": timing.node},
            )
            nodes.append((timing, span))
        for turn in episode.turns:
            parent = _node_of(turn, nodes)
            call = self._tracer.start_span(
                f"chat {turn.role}",
                context=trace.set_span_in_context(parent if parent is not None else root),
                kind=trace.SpanKind.CLIENT,
                start_time=_ns(turn.started_at),
                attributes=self._call_attributes(turn),
            )
            call.end(end_time=_ns(turn.started_at + turn.duration_s))
        for timing, span in nodes:
            span.end(end_time=_ns(timing.started_at + timing.duration_s))
        root.end(end_time=_ns(start + episode.duration_s))

    def _call_attributes(self, turn: Turn) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "sparring",
            "gen_ai.request.model": self.model,
            "gen_ai.agent.name": str(turn.role),
            "gen_ai.usage.input_tokens": turn.prompt_tokens,
            "gen_ai.usage.output_tokens": turn.completion_tokens,
            "sparring.role": str(turn.role),
            "sparring.node": turn.node,
            "sparring.policy_version": turn.policy_version,
            "sparring.tool_calls": len(turn.tool_calls),
        }
        if turn.finish_reason is not None:
            attributes["gen_ai.response.finish_reasons"] = [turn.finish_reason]
        if turn.sample_id is not None:
            attributes["sparring.sample_id"] = turn.sample_id
        return attributes

    def close(self) -> None:
        """Export what is still batched, then stop."""
        self._provider.shutdown()


def _episode_attributes(episode: Episode) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "sparring.episode.id": episode.id,
        "sparring.game": episode.game,
        "sparring.worker": episode.worker,
        "sparring.policy_version": episode.policy_version,
        "sparring.task.split": episode.task.split,
        "sparring.turns": len(episode.turns),
    }
    for role in {r.role for r in episode.rewards}:
        paid = [r.reward for r in episode.rewards if r.role == role]
        attributes[f"sparring.reward.{role}"] = sum(paid) / len(paid)
    for name, value in episode.stats.items():
        attributes[f"sparring.stats.{name}"] = value
    if episode.errors:
        attributes["sparring.errors"] = list(episode.errors)
    return attributes


def _node_of(turn: Turn, nodes: list[tuple[NodeTiming, Any]]) -> Any | None:
    """The span of the node visit the call was made in: same node name, the latest visit that
    started by the time the call did (a node can be visited more than once)."""
    visits = [(t, s) for t, s in nodes if t.node == turn.node]
    started = [(t, s) for t, s in visits if t.started_at <= turn.started_at]
    chosen = started[-1] if started else (visits[0] if visits else None)
    return chosen[1] if chosen is not None else None


async def export_episodes(
    bus: Bus, endpoint: str, run: str, model: str, say: Callable[[str], None] = print
) -> None:
    """Follow the run's new episodes and export each as a trace, until cancelled.

    Like the metrics collector it outlives a broken subscription (a restarted server): it says
    so and follows again, new episodes only, so a trace is never sent twice."""
    tracer = EpisodeTracer(endpoint, run, model)
    say(f"traces: every episode to {tracer.url} (OTLP/HTTP)")
    try:
        while True:
            try:
                async for episode in bus.follow(Episode, from_start=False):
                    tracer.record(episode)
            except Exception as e:  # the exporter must not end the run, nor die silently
                say(f"[yellow]traces: following again after {type(e).__name__}: {e}[/]")
                await asyncio.sleep(1.0)
    finally:
        await asyncio.to_thread(tracer.close)
