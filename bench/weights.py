"""Weight-sync benchmark: publish-to-serving latency of each way, against a raw save + load.

    .venv/bin/python bench/weights.py [--sizes tiny,125m,0p6b] [--lr 1e-4] [--rounds 1]

For each size, a synthetic state dict with the real shapes (the tiny model's own, fp32 as the
trainer publishes it; GPT-2 small's 124M and Qwen3-0.6B's 596M in bf16), random values, and a
next version one Adam-like step away (every weight moved by `lr` in a random direction, in
fp32, then cast: in bf16 a weight moves only when the step exceeds half its last place).

Latency: from the trainer's side starting to publish (handing `WeightsPublisher` the
tensors, as the trainer does with `published_state`; they are saved straight to the file) to
every worker serving the version (its stand-in policy loaded the safetensors with `load_file`,
the transformers backend's read). Ways:
- same host: `SyncConfig(bus=False)`: the file, announced, memory-mapped and digest-checked;
- bus whole: `SyncConfig(same_host=False, delta=False)`: Object Store put, streamed get;
- bus delta: `SyncConfig(same_host=False)`, the workers serving the version before (fetched
  whole first, not timed): the delta is announced before the whole copy is stored;
with 1 and 4 workers, each on its own NATS connection, in this one process (so 4 workers share
its CPU and the GIL: on separate machines each would have its own). The raw baseline is
`safetensors.torch.save_file` + `load_file` of the same tensors in the same folder the same-host
file goes to, in the same run (after one untimed round: the first writes into fresh memory).
Embedded nats-server, max_payload 32 MiB, 16 MiB chunks. Targets: same host <= 1.5x raw; bus
<= 4 s for 0.6B with one worker. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save, save_file

from sparring.bus import Bus, BusConfig, EmbeddedServer
from sparring.weights import SyncConfig, WeightsFetcher, WeightsPublisher
from sparring.weights._files import choose_dir

MiB = 1024 * 1024
Shapes = dict[str, tuple[int, ...]]


def qwen3_shapes(vocab: int, hidden: int, inter: int, layers: int, heads: int, kv: int,
                 head_dim: int) -> Shapes:  # fmt: skip
    """A Qwen3 decoder's weights with tied embeddings (what save_pretrained writes)."""
    shapes: Shapes = {"model.embed_tokens.weight": (vocab, hidden), "model.norm.weight": (hidden,)}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes |= {
            p + "self_attn.q_proj.weight": (heads * head_dim, hidden),
            p + "self_attn.k_proj.weight": (kv * head_dim, hidden),
            p + "self_attn.v_proj.weight": (kv * head_dim, hidden),
            p + "self_attn.o_proj.weight": (hidden, heads * head_dim),
            p + "self_attn.q_norm.weight": (head_dim,),
            p + "self_attn.k_norm.weight": (head_dim,),
            p + "mlp.gate_proj.weight": (inter, hidden),
            p + "mlp.up_proj.weight": (inter, hidden),
            p + "mlp.down_proj.weight": (hidden, inter),
            p + "input_layernorm.weight": (hidden,),
            p + "post_attention_layernorm.weight": (hidden,),
        }
    return shapes


def gpt2_shapes(vocab: int = 50257, hidden: int = 768, layers: int = 12, ctx: int = 1024) -> Shapes:
    """GPT-2 small (124M), as its checkpoint names its tensors."""
    shapes: Shapes = {"wte.weight": (vocab, hidden), "wpe.weight": (ctx, hidden),
                      "ln_f.weight": (hidden,), "ln_f.bias": (hidden,)}  # fmt: skip
    for i in range(layers):
        p = f"h.{i}."
        shapes |= {
            p + "ln_1.weight": (hidden,), p + "ln_1.bias": (hidden,),
            p + "attn.c_attn.weight": (hidden, 3 * hidden), p + "attn.c_attn.bias": (3 * hidden,),
            p + "attn.c_proj.weight": (hidden, hidden), p + "attn.c_proj.bias": (hidden,),
            p + "ln_2.weight": (hidden,), p + "ln_2.bias": (hidden,),
            p + "mlp.c_fc.weight": (hidden, 4 * hidden), p + "mlp.c_fc.bias": (4 * hidden,),
            p + "mlp.c_proj.weight": (4 * hidden, hidden), p + "mlp.c_proj.bias": (hidden,),
        }  # fmt: skip
    return shapes


def tiny_shapes() -> Shapes:
    """The tiny model's own weights (built here, as the tests build it)."""
    from transformers import AutoModelForCausalLM

    from sparring.policy import build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        model = AutoModelForCausalLM.from_pretrained(build_tiny_model(Path(tmp) / "m"))
        return {k: tuple(v.shape) for k, v in model.state_dict().items()}


SIZES: dict[str, tuple[Callable[[], Shapes], torch.dtype]] = {
    "tiny": (tiny_shapes, torch.float32),
    "125m": (gpt2_shapes, torch.bfloat16),
    "0p6b": (lambda: qwen3_shapes(151936, 1024, 3072, 28, 16, 8, 128), torch.bfloat16),
}


def synthetic(shapes: Shapes, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {k: (0.02 * torch.randn(s, generator=gen)).to(dtype) for k, s in shapes.items()}


def stepped(state: dict[str, torch.Tensor], lr: float, seed: int) -> dict[str, torch.Tensor]:
    """One Adam-like step: each weight moved by lr, in a random direction, in fp32."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in state.items():
        sign = torch.randint(0, 2, v.shape, generator=gen, dtype=torch.int8) * 2 - 1
        out[k] = (v.float() + lr * sign).to(v.dtype)
    return out


class LoadOnly:
    """The worker's policy, reduced to its read of the weights (`load_file`, then dropped)."""

    def __init__(self) -> None:
        self.version = 0

    async def load_weights(self, data: Path, version: int, format: str = "full") -> None:
        await asyncio.to_thread(lambda: len(load_file(str(data))))
        self.version = version


async def sync_once(
    url: str, run: str, config: SyncConfig, work: Path, states: list[dict[str, torch.Tensor]],
    workers: int,
) -> float:  # fmt: skip
    """Publish each of `states` in turn; the latency of the last one to every worker."""
    bus_config = BusConfig(object_chunk_bytes=16 * MiB)
    trainer_bus = await Bus.connect(url, run=run, config=bus_config, name="trainer")
    publisher = WeightsPublisher(trainer_bus, config, work / run, keep_objects=2)
    buses = [await Bus.connect(url, run=run, config=bus_config, name=f"worker-{i}")
             for i in range(workers)]  # fmt: skip
    policies = [LoadOnly() for _ in buses]
    pairs = zip(buses, policies, strict=True)
    fetchers = [WeightsFetcher(b, p, work / run / b.name) for b, p in pairs]
    served: list[dict[int, float]] = [{} for _ in buses]
    progress = asyncio.Event()

    async def worker(i: int) -> None:
        async for pv in buses[i].watch_policy():
            if pv.version > policies[i].version and await fetchers[i].load(pv) is not None:
                served[i][pv.version] = time.perf_counter()
                progress.set()

    tasks = [asyncio.create_task(worker(i)) for i in range(workers)]
    try:
        for version, state in enumerate(states, start=1):
            t0 = time.perf_counter()
            await publisher.publish(version, version, state)  # the trainer hands it tensors
            while not all(version in s for s in served):
                await progress.wait()
                progress.clear()
            latency = max(s[version] for s in served) - t0
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for f in fetchers:
            f.close()
        publisher.close()
        await trainer_bus.destroy()
        for b in (trainer_bus, *buses):
            await b.close()
        gc.collect()
    return latency


def raw_save_load(state: dict[str, torch.Tensor], folder: Path) -> float:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "raw.safetensors"
    t0 = time.perf_counter()
    save_file(state, str(path))
    len(load_file(str(path)))
    t = time.perf_counter() - t0
    path.unlink()
    return t


async def bench_size(
    name: str, url: str, work: Path, lr: float, rounds: int, out: dict[str, Any]
) -> None:
    make_shapes, dtype = SIZES[name]
    state = synthetic(make_shapes(), dtype)
    nxt = stepped(state, lr, seed=1)
    size = sum(t.numel() * t.element_size() for t in state.values())
    folder = choose_dir("auto", work, f"bench-{name}", size, 3)
    print(f"{name}: {sum(t.numel() for t in state.values()) / 1e6:.1f}M params, "
          f"{size / MiB:.0f} MiB {str(dtype).removeprefix('torch.')}, "
          f"files in {folder}")  # fmt: skip
    raws = [raw_save_load(state, folder) for _ in range(rounds + 1)][1:]  # first: warm-up
    out[f"raw_save_load_{name}_s"] = round(statistics.median(raws), 3)
    print(f"  raw save_file + load_file          {statistics.median(raws):7.3f} s")
    big = name == "0p6b"
    ways: list[tuple[str, SyncConfig, list[dict[str, torch.Tensor]]]] = [
        ("same_host", SyncConfig(dir=str(folder), bus=False, delta=False), [state]),
        ("bus", SyncConfig(same_host=False, delta=False), [state]),
        ("bus_delta", SyncConfig(same_host=False), [state, nxt]),
    ]
    for way, config, states in ways:
        for workers in (1, 4):
            if big and way == "bus_delta" and workers == 4:
                continue  # 4 caches of base + new at 1.2 GB each: more memory than we share
            times = []
            for r in range(rounds):
                run = f"{way.replace('_', '-')}-{name}-{workers}-{r}"
                times.append(await sync_once(url, run, config, work, states, workers))
            key = f"{way}_{name}_s" if workers == 1 else f"{way}_{name}_{workers}workers_s"
            out[key] = round(statistics.median(times), 3)
            print(f"  {way:10s} {workers} worker{'s' if workers > 1 else ' '}"
                  f"                 {statistics.median(times):7.3f} s", flush=True)  # fmt: skip
    from sparring.weights._delta import make_delta

    a, b = bytes(save(state)), bytes(save(nxt))
    delta = make_delta(a, b)
    out[f"delta_ratio_{name}"] = round(len(delta) / len(b), 4) if delta else None
    print(f"  delta size / whole (lr {lr:g})       {out[f'delta_ratio_{name}']}")
    out[f"same_host_ratio_{name}"] = round(
        out[f"same_host_{name}_s"] / out[f"raw_save_load_{name}_s"], 3
    )


async def bench(sizes: list[str], lr: float, rounds: int) -> dict[str, Any]:
    out: dict[str, Any] = {"bench": "weights", "lr": lr}
    with tempfile.TemporaryDirectory(prefix="sparring-bench-weights-") as tmp:
        work = Path(tmp)
        async with EmbeddedServer(work / "nats", max_payload_bytes=32 * MiB) as server:
            for name in sizes:
                await bench_size(name, server.url, work, lr, rounds, out)
                gc.collect()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--sizes", default="tiny,125m,0p6b")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--rounds", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(2)
    out = asyncio.run(bench(a.sizes.split(","), a.lr, a.rounds))
    if "same_host_0p6b_s" in out:
        print(f"0.6B: same host {out['same_host_0p6b_s']} s = {out['same_host_ratio_0p6b']}x raw "
              f"(target <= 1.5x); bus {out['bus_0p6b_s']} s (target <= 4 s), 4 workers "
              f"{out['bus_0p6b_4workers_s']} s; delta {out.get('bus_delta_0p6b_s')} s")  # fmt: skip
    print(json.dumps(out))


if __name__ == "__main__":
    main()
