"""Weight transfer: each new version from the trainer to every worker, the right way for each.

    publisher = WeightsPublisher(bus, SyncConfig(), run_dir, keep_objects=8)   # trainer
    pv = await publisher.publish(version, step, safetensors_bytes)
    fetcher = WeightsFetcher(bus, policy, run_dir)                             # worker
    await load_announced(bus, policy, pv, fetcher)

The `PolicyVersion` in the KV is the single source of truth: the digest and every way to the
bytes (a same-host file, the Object Store whole, a delta from the previous version, a
collective broadcast). The publisher writes them (`publisher.py`), the fetcher picks the first
that works for its machine and version and verifies the digest before the policy sees a byte
(`fetcher.py`). `collective.py` is the GPU-to-GPU path (NCCL), used only where
torch.distributed and CUDA exist. This package imports the bus and the messages, nothing above.
"""

from sparring.weights.config import SyncConfig
from sparring.weights.errors import WeightsError, WeightsUnavailable
from sparring.weights.fetcher import Loaded, WeightsFetcher, load_announced
from sparring.weights.publisher import WeightsPublisher, delta_name, object_name

__all__ = [
    "Loaded",
    "SyncConfig",
    "WeightsError",
    "WeightsFetcher",
    "WeightsPublisher",
    "WeightsUnavailable",
    "delta_name",
    "load_announced",
    "object_name",
]
