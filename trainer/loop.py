"""The streaming loop: consume samples, batch complete groups, step, checkpoint, ack, publish.

    trainer = Trainer(config, model_dir, run_dir, bus)
    await trainer.run(stop_event)        # returns after stop_event is set, with a final commit

Per lap: fetch from the durable consumer; ack-and-skip a sample whose id an earlier checkpoint
already includes (a redelivery after a crash); buffer the rest by group; drop (count, ack)
groups that stay incomplete past `group_timeout_s` and, for group-relative estimators, groups
whose rewards are all equal; once enough complete groups wait, estimate advantages, drop samples
more than `max_staleness` versions old, and take one `train_step`. Every `checkpoint_every`
steps it writes a checkpoint and only then acks what those steps consumed (exactly-once effect);
every `publish_every` steps it puts the weights in the Object Store and bumps the PolicyVersion.
The learning rule itself lives in `step.py`; this module holds no maths.

Refused and counted in `totals` (docs/architecture.md, "Faults"): unreadable or non-finite
samples by the consumer (`dead_lettered`); on receipt, token ids outside the vocabulary
(`dropped_invalid`) and samples longer than the model's context or `max_sample_tokens`
(`dropped_too_long`: dropped, not dead-lettered, as the message is well formed and stays on
its stream; not truncated, as a cut trajectory is not what the reward paid for); groups whose
advantages overflow (`dropped_nonfinite`); and steps whose loss or gradient is not finite
(`skipped_nonfinite`: nothing applied, checkpointed or published, the samples acked untrained).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from sparring.bus import Bus, Delivery
from sparring.messages import Sample
from sparring.trainer import checkpoint as ckpt
from sparring.trainer.advantages import RaeBaselines, estimate
from sparring.trainer.batch import collate
from sparring.trainer.config import GROUP_RELATIVE, TrainerConfig
from sparring.trainer.groups import GroupBuffer
from sparring.trainer.metrics import MetricsSink
from sparring.trainer.model import (
    build_optimizer,
    load_reference,
    load_trainable,
    published_state,
    weights_format,
)
from sparring.trainer.step import StepStats, train_step
from sparring.weights import WeightsPublisher

__all__ = ["Trainer"]

log = logging.getLogger(__name__)

_NO_SIGNAL = 1e-6
"""A group whose advantages are all smaller than this teaches nothing (an RAE baseline that has
converged on a constant reward gives ~1e-16, not 0)."""


class Trainer:
    """Trains the run's policy from the samples stream; see the module docstring."""

    def __init__(self, config: TrainerConfig, model_dir: Path, run_dir: Path, bus: Bus) -> None:
        self.config = config
        self.model_dir = Path(model_dir)
        self.run_dir = Path(run_dir)
        self.bus = bus
        self.state = ckpt.TrainerState()
        self.model: Any = None
        self.optimizer: torch.optim.Optimizer | None = None
        self._ref: Any = None
        self._rae = RaeBaselines(config.rae_decay)
        self._buffer = GroupBuffer(config.group_timeout_s)
        self._ready: list[list[Sample]] = []
        self._held: dict[str, Delivery[Sample]] = {}  # every un-acked sample id -> latest delivery
        self._committed: set[str] = set()  # ids the latest checkpoints include
        self._consumed: list[str] = []  # ids consumed by steps not yet checkpointed
        self._uncommitted: list[ckpt.StepIds] = []
        self._totals: dict[str, float] = defaultdict(float)
        self._groups_seen = 0  # groups completed or dropped since the last step
        self._groups_signal = 0  # ...of which had a non-zero advantage
        self._sink = MetricsSink(self.run_dir / "metrics.jsonl", bus)
        # Old weights are removed as it goes (files, objects), or a long run grows by a model
        # per step; a worker that asks for a removed version loads the current one.
        self._publisher = WeightsPublisher(bus, config.sync, self.run_dir, config.keep_weights)
        self._max_tokens = 0  # longest sample trained (0: no limit); set when the model loads
        self._dead_seen = 0  # the consumer's dead letters already added to the totals

    @property
    def totals(self) -> dict[str, float]:
        """Running counters: dropped_stale, dropped_incomplete, skipped_all_equal, ..."""
        return dict(self._totals)

    @property
    def checkpoint_root(self) -> Path:
        """Folder holding the checkpoints."""
        return self.run_dir / "checkpoints"

    @property
    def published(self) -> Path:
        """JSONL file naming the step each published version holds (`sparring export`)."""
        return self.run_dir / "published.jsonl"

    @property
    def ledger(self) -> Path:
        """JSONL file with the sample ids of every committed step."""
        return self.run_dir / "trained.jsonl"

    # -- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Load the model (and the latest checkpoint, if any) and sync the published version."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log.info("trainer config: %s", self.config.model_dump_json())
        (self.run_dir / "trainer_config.json").write_text(self.config.model_dump_json(indent=2))
        await asyncio.to_thread(self._load)
        await self._sync_published()

    async def run(self, stop: asyncio.Event) -> ckpt.TrainerState:
        """Train until `stop` is set; commit what was trained, then return the final state."""
        if self.model is None:
            await self.start()
        consumer = await self.bus.consumer(Sample, durable=self.config.durable)
        heartbeat = asyncio.create_task(self._heartbeat())
        poll = min(0.5, self.config.group_timeout_s / 4)
        try:
            while not stop.is_set():
                deliveries = await consumer.fetch(self.config.fetch_batch, timeout=poll)
                self._totals["dead_lettered"] += consumer.dead_lettered - self._dead_seen
                self._dead_seen = consumer.dead_lettered
                await self._receive(deliveries)
                await self._expire()
                while await self._batch_ready() and not stop.is_set():
                    await self._train_one()
            if self._uncommitted:
                await self._commit()
            if self.state.published_step != self.state.step:
                await self._publish()
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            self._publisher.close()
        return self.state

    def _load(self) -> None:
        torch.manual_seed(self.config.seed)
        torch.set_num_threads(self.config.threads or max(1, (os.cpu_count() or 2) // 2))
        self.model = load_trainable(self.model_dir, self.config)
        self.optimizer = build_optimizer(self.model, self.config)
        self._ref = load_reference(self.model, self.config)
        positions = int(getattr(self.model.config, "max_position_embeddings", 0) or 0)
        self._max_tokens = self.config.max_sample_tokens or positions
        found = ckpt.latest_checkpoint(self.checkpoint_root)
        if found is None:
            return
        self.state = ckpt.load_checkpoint(found, self.model, self.optimizer)
        self._rae = RaeBaselines(self.config.rae_decay, self.state.rae)
        self._committed = {i for ids in self.state.recent_ids for i in ids}
        self._totals.update(self.state.totals)
        ckpt.reconcile_ledger(self.ledger, self.state)
        log.info("trainer resumed from %s at step %d", found, self.state.step)

    async def _sync_published(self) -> None:
        # Versions only grow. Publish again when the KV holds weights this state does not
        # (killed between checkpoint and publish, or a published step that was never checkpointed).
        current = await self.bus.get_policy()
        if current is not None and current.version > self.state.version:
            self.state = self.state.model_copy(update={"version": current.version})
        stale = current.step != self.state.step if current is not None else self.state.step > 0
        if stale:
            await self._publish()
        else:  # what workers serve is this state's weights (the checkpoint predates the publish)
            self.state = self.state.model_copy(update={"published_step": self.state.step})

    # -- consuming ------------------------------------------------------------------------

    async def _receive(self, deliveries: Sequence[Delivery[Sample]]) -> None:
        now = time.monotonic()
        for d in deliveries:
            s = d.message
            if s.id in self._committed:  # trained before a crash, its ack lost: ack, skip
                self._totals["redelivered_skipped"] += 1
                await d.ack()
            elif s.id in self._held:  # redelivered while we still hold it: keep the newest
                self._held[s.id] = d
            elif s.reward is None:
                self._totals["dropped_unrewarded"] += 1
                await d.ack()
            elif (refusal := self._refusal(s)) is not None:  # count, ack, never train
                self._count(refusal[0], [s])
                log.warning("sample %s dropped: %s", s.id, refusal[1])
                await d.ack()
            else:
                self._held[s.id] = d
                group = self._buffer.add(s, now)
                if group is not None:
                    await self._complete(group)

    def _refusal(self, s: Sample) -> tuple[str, str] | None:
        """(counter, why) for a sample this model must not train: ids it has no embedding
        for would crash the forward pass; one longer than its context (2100 tokens against
        2048) took 200 times a step's median."""
        vocab = int(self.model.get_input_embeddings().num_embeddings)
        ids = [*s.prompt_ids, *s.completion_ids]
        if not s.prompt_ids or min(ids) < 0 or max(ids) >= vocab:
            return "dropped_invalid", f"an empty prompt or ids outside the vocabulary of {vocab}"
        if 0 < self._max_tokens < len(ids):
            return (
                "dropped_too_long",
                f"{len(ids)} tokens, more than the {self._max_tokens} trained",
            )
        return None

    async def _complete(self, group: list[Sample]) -> None:
        self._groups_seen += 1
        rewards = [s.reward for s in group]
        estimator = self.config.estimator(group[0].game, group[0].role)
        if estimator in GROUP_RELATIVE and len(set(rewards)) == 1:
            # A singleton group is its own reason: it says the role's credit is misdeclared.
            why = "skipped_singleton" if len(group) == 1 else "skipped_all_equal"
            self._count(why, group)
            await self._ack([s.id for s in group])
            return
        self._ready.append(group)

    def _count(self, reason: str, samples: Sequence[Sample], total: int = 1) -> None:
        """Count `samples` under `reason/role`, per role, so the dashboard shows why a role is
        (not) learning; and `total` under `reason` (groups, for the historical totals)."""
        self._totals[reason] += total
        for s in samples:
            self._totals[f"{reason}/{s.role}"] += 1

    def _too_stale(self, s: Sample) -> bool:
        return self.state.version - s.policy_version > self.config.max_staleness

    async def _drop_stale_groups(self) -> None:
        # A waiting group whose every sample is already too old can never train: drop it now,
        # so it does not count toward a batch. Otherwise the trainer steps on the few fresh
        # leftovers, bumps the version each time and makes the next arrivals stale in turn.
        keep = []
        for group in self._ready:
            if all(self._too_stale(s) for s in group):
                self._count("dropped_stale", group, total=len(group))
                await self._ack([s.id for s in group])
            else:
                keep.append(group)
        self._ready = keep

    async def _expire(self) -> None:
        for group in self._buffer.expire(time.monotonic()):
            self._groups_seen += 1
            self._count("dropped_incomplete", group)
            self._totals["dropped_incomplete_samples"] += len(group)
            await self._ack([s.id for s in group])

    async def _ack(self, ids: Sequence[str]) -> None:
        for i in ids:
            d = self._held.pop(i, None)
            if d is not None:
                await d.ack()

    async def _heartbeat(self) -> None:
        # Held samples wait for a whole group and then a checkpoint; without in_progress they
        # would be redelivered every ack_wait and finally given up after max_deliver.
        period = self.bus.config.ack_wait_s / 3
        while True:
            await asyncio.sleep(period)
            for d in list(self._held.values()):
                await d.in_progress()

    # -- stepping -------------------------------------------------------------------------

    async def _batch_ready(self) -> bool:
        await self._drop_stale_groups()
        return bool(self._ready) and self._full(self._ready)

    def _full(self, groups: list[list[Sample]]) -> bool:
        """Enough for a step: `batch_groups` real groups, or `min_samples` samples in all.
        Singleton groups (the proposer's, one per episode) count only as samples: counted as
        groups, a burst of them made steps of a dozen samples, a version each, and the solver
        groups arriving meanwhile went stale."""
        real = sum(len(g) > 1 for g in groups)
        return real >= self.config.batch_groups or sum(map(len, groups)) >= self.config.min_samples

    def _take_groups(self) -> list[list[Sample]]:
        taken: list[list[Sample]] = []
        while self._ready and not self._full(taken):
            taken.append(self._ready.pop(0))
        return taken

    async def _train_one(self) -> None:
        t0 = time.perf_counter()
        groups = self._take_groups()
        advantages = estimate(groups, self.config, self._rae)
        samples, advs, staleness = [], [], []
        untrained: list[str] = []
        for group, adv in zip(groups, advantages, strict=True):
            if adv is not None and not all(map(math.isfinite, adv)):
                # Finite rewards can still overflow a mean or a std (1e308 + 1e308 is inf).
                self._count("dropped_nonfinite", group)
                untrained.extend(s.id for s in group)
                continue
            if adv is None or max(abs(a) for a in adv) < _NO_SIGNAL:
                self._count("skipped_no_signal", group)
                untrained.extend(s.id for s in group)
                continue
            self._groups_signal += 1
            for s, a in zip(group, adv, strict=True):
                if self._too_stale(s):
                    self._count("dropped_stale", [s])
                    untrained.append(s.id)
                    continue
                samples.append(s)
                advs.append(a)
                staleness.append(self.state.version - s.policy_version)
        # What is not trained is acked now: it changes no weights, so it needs no checkpoint,
        # and holding it would stall the workers, who pause while the trainer's backlog is long.
        await self._ack(untrained)
        if not samples:
            return
        batch = collate(samples, advs)
        assert self.optimizer is not None
        stats = await asyncio.to_thread(
            train_step, self.model, self.optimizer, batch, self.config, self._ref
        )
        if not stats.applied:  # nothing changed: no step, no checkpoint, no version
            self._count("skipped_nonfinite", samples)
            log.warning(
                "step skipped: loss %s, gradient norm %s over %d samples (acked untrained)",
                stats.loss,
                stats.grad_norm,
                len(samples),
            )
            await self._ack([s.id for s in samples])
            return
        self._consumed.extend(s.id for s in samples)
        self._count("trained", samples, total=len(samples))
        step = self.state.step + 1
        self.state = self.state.model_copy(update={"step": step})
        ids = [s.id for s in samples]
        self._uncommitted.append(ckpt.StepIds(step=step, sample_ids=ids, advantages=advs))
        await self._sink.emit(step, self._step_metrics(stats, groups, samples, advs, staleness, t0))
        self._groups_seen = self._groups_signal = 0
        if step % self.config.checkpoint_every == 0:
            await self._commit()
        if step % self.config.publish_every == 0:
            await self._publish()

    def _step_metrics(
        self,
        stats: StepStats,
        groups: list[list[Sample]],
        samples: list[Sample],
        advs: list[float],
        staleness: list[int],
        t0: float,
    ) -> dict[str, float]:
        values: dict[str, float] = {
            "loss": stats.loss,
            "kl": stats.kl,
            "entropy": stats.entropy,
            "clip_frac": stats.clip_frac,
            "truncated_frac": stats.truncated_frac,
            "ratio": stats.ratio,
            "grad_norm": stats.grad_norm,
            "samples": stats.samples,
            "tokens": stats.tokens,
            "step_time_s": stats.step_time_s,
            "samples_per_s": stats.samples / stats.step_time_s,
            "tokens_per_s": stats.tokens / stats.step_time_s,
            "wall_s": time.perf_counter() - t0,
            # groups with a non-zero advantage / all groups completed or dropped since last step
            "signal_frac": self._groups_signal / max(self._groups_seen, self._groups_signal),
            "staleness_mean": sum(staleness) / len(staleness),
            "staleness_max": max(staleness),
            "version": self.state.version,
            **self._totals,
        }
        by_role: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for s, a in zip(samples, advs, strict=True):
            by_role[s.role].append((s.reward or 0.0, a))
        for role, pairs in by_role.items():
            values[f"reward/{role}"] = sum(r for r, _ in pairs) / len(pairs)
            values[f"advantage/{role}"] = sum(a for _, a in pairs) / len(pairs)
        return values

    # -- committing and publishing --------------------------------------------------------

    async def _commit(self) -> None:
        """Checkpoint, then ack every sample the checkpoint includes."""
        recent = [*self.state.recent_ids, self._consumed][-ckpt.REMEMBERED_CHECKPOINTS :]
        self.state = self.state.model_copy(
            update={
                "rae": dict(self._rae.values),
                "steps": self._uncommitted,
                "recent_ids": recent,
                "totals": dict(self._totals),
            }
        )
        assert self.optimizer is not None
        await asyncio.to_thread(
            ckpt.save_checkpoint,
            self.checkpoint_root,
            self.model,
            self.optimizer,
            self.state,
            self.config.keep_checkpoints,
        )
        ckpt.append_ledger(self.ledger, self._uncommitted)
        self._committed = {i for ids in recent for i in ids}
        consumed, self._consumed, self._uncommitted = self._consumed, [], []
        await self._ack(consumed)

    async def _publish(self) -> None:
        """Publish the current weights as the next version, every way `config.sync` asks."""
        state = await asyncio.to_thread(published_state, self.model, self.config)
        version = self.state.version + 1
        pv = await self._publisher.publish(
            version, self.state.step, state, weights_format(self.model, self.config)
        )
        self.state = self.state.model_copy(
            update={"version": version, "published_step": self.state.step}
        )
        ckpt.append_publication(
            self.published, ckpt.Publication(version=version, step=self.state.step)
        )
        log.info(
            "published policy v%d (step %d, %d bytes)", version, self.state.step, pv.size_bytes
        )
