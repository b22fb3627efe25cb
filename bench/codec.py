"""Codec benchmark: the bus's msgpack codec against JSON for one 8k-token Sample.

    .venv/bin/python bench/codec.py

JSON is orjson over `model_dump(mode="json")` (packed arrays as base64 strings), decoded by
`Sample.model_validate(orjson.loads(...))`; msgpack is the bus's own codec (packed arrays as
msgpack bin). Prints encode and decode times (median of repeats, microseconds) and sizes, and ends
with one JSON line {"bench": "codec", ...}.
"""

from __future__ import annotations

import json
import statistics
import timeit
from collections.abc import Callable

import orjson

from sparring.bus._codec import decode, encode
from sparring.bus_demo import realistic_sample
from sparring.messages import Sample

TOKENS = 8192


def per_call_us(fn: Callable[[], object], number: int = 2000, repeat: int = 7) -> float:
    """Median over `repeat` runs of the mean time of one call, in microseconds."""
    runs = timeit.repeat(fn, number=number, repeat=repeat)
    return statistics.median(runs) / number * 1e6


def main() -> None:
    sample = realistic_sample("bench", tokens=TOKENS, prompt_tokens=256)
    as_json = orjson.dumps(sample.model_dump(mode="json"))
    as_msgpack = encode(sample)
    assert Sample.model_validate(orjson.loads(as_json)) == sample
    assert decode(as_msgpack, Sample) == sample

    figures = {
        "json_encode_us": per_call_us(lambda: orjson.dumps(sample.model_dump(mode="json"))),
        "json_decode_us": per_call_us(lambda: Sample.model_validate(orjson.loads(as_json))),
        "json_bytes": len(as_json),
        "msgpack_encode_us": per_call_us(lambda: encode(sample)),
        "msgpack_decode_us": per_call_us(lambda: decode(as_msgpack, Sample)),
        "msgpack_bytes": len(as_msgpack),
    }
    print(f"Sample of {TOKENS} completion tokens with logprobs and loss mask, 256 prompt tokens")
    print(f"{'':10}{'encode us':>12}{'decode us':>12}{'bytes':>12}")
    for name in ("json", "msgpack"):
        enc, dec = figures[f"{name}_encode_us"], figures[f"{name}_decode_us"]
        print(f"{name:10}{enc:12.1f}{dec:12.1f}{figures[f'{name}_bytes']:12,}")
    ratios = {
        "encode_speedup": figures["json_encode_us"] / figures["msgpack_encode_us"],
        "decode_speedup": figures["json_decode_us"] / figures["msgpack_decode_us"],
        "size_ratio": figures["msgpack_bytes"] / figures["json_bytes"],
    }
    print(
        f"msgpack is {ratios['encode_speedup']:.1f}x faster to encode, "
        f"{ratios['decode_speedup']:.1f}x faster to decode, "
        f"{ratios['size_ratio']:.2f}x the size"
    )
    rounded = {k: round(v, 2) for k, v in {**figures, **ratios}.items()}
    print(json.dumps({"bench": "codec", "tokens": TOKENS, **rounded}))


if __name__ == "__main__":
    main()
