"""Where a completion ends, decided the same way for every backend.

An EOS token ends it with finish_reason "stop" (the EOS kept, with its logprob, so the model is
trained to stop); a stop string cuts it after the first token that completes the string ("stop",
the string kept, token-aligned); reaching max_new_tokens gives "length". Backends generate a
little past the end (a batch runs to its longest row; an engine may finish the token after a
stop string) and cut here, so the recorded ids and logprobs mean the same thing whichever
backend produced them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Literal

from sparring.policy.base import SamplingParams

__all__ = ["cut_completion", "first_stop"]

Decode = Callable[[Sequence[int]], str]


def cut_completion(
    ids: Sequence[int],
    logprobs: Sequence[float],
    params: SamplingParams,
    eos: Collection[int],
    decode: Decode,
) -> tuple[list[int], list[float], Literal["stop", "length"]]:
    """The kept ids and logprobs of a completion, and why it ended."""
    ids = list(ids[: params.max_new_tokens])
    end, reason = len(ids), "length"
    for i, t in enumerate(ids):
        if t in eos:
            end, reason = i + 1, "stop"
            break
    stop_end = first_stop(ids[:end], params.stop, decode)
    if stop_end is not None:
        end, reason = stop_end, "stop"
    return ids[:end], list(logprobs[:end]), "stop" if reason == "stop" else "length"


def first_stop(ids: Sequence[int], stops: Sequence[str], decode: Decode) -> int | None:
    """Length of the shortest prefix of `ids` whose text contains a stop string, if any."""
    if not stops or not any(s in decode(ids) for s in stops):
        return None
    # Containment only grows with the prefix, so bisect on the prefix length.
    lo, hi = 1, len(ids)
    while lo < hi:
        mid = (lo + hi) // 2
        if any(s in decode(ids[:mid]) for s in stops):
            hi = mid
        else:
            lo = mid + 1
    return lo
