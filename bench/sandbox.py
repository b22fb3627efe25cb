"""Sandbox benchmark: programs/s through the sandbox against bare `python -c`, and start-up cost.

    .venv/bin/python bench/sandbox.py [--rounds 5] [--repeat 8] [--concurrency 8]

Needs Linux and root (elsewhere the sandbox refuses, and this prints why and a JSON line with
"skipped"). The programs are small AZR-like ones
(sorting, strings, a sieve, recursion, collections, json, re, 200 printed lines), each with a
call whose value is asked for. Every limit is on (the default Limits). Figures:

- programs/s, sandbox against the bare baseline the issue names, `subprocess.run([python, "-c",
  program + value print])`, with the same number in flight on both sides (`--concurrency`:
  asyncio tasks into the sandbox, threads around subprocess.run); `programs_ratio` is this.
  Also one at a time on both sides, and against `python -S -c` (no site: a baseline without
  the ~30 ms of site-packages start-up that the sandbox also skips).
- start-up cost per program: the median round trip of an empty program, `pass`, through the
  sandbox (`startup_ms`), against `python -c pass`; and the one-off start of the fork server.

Raw and sandbox passes alternate, `--rounds` times, and medians are compared, so a noisy
neighbour on a shared machine hits both sides alike. Every pass checks that both sides gave
the same output. Ends with one JSON line {"bench": "sandbox"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sparring.tools.sandbox import Sandbox, SandboxConfig, SandboxUnavailableError

PROGRAMS = [
    ("def f(xs):\n    return sorted(xs, reverse=True)[:3]", "f([5, 3, 9, 1, 7, 2])"),
    (
        "def f(s):\n    return ''.join(c.upper() if i % 2 else c for i, c in enumerate(s))",
        "f('sparring')",
    ),
    (
        "def f(n):\n"
        "    sieve = [True] * (n + 1)\n"
        "    for p in range(2, int(n ** 0.5) + 1):\n"
        "        if sieve[p]:\n"
        "            sieve[p * p :: p] = [False] * len(sieve[p * p :: p])\n"
        "    return sum(i for i in range(2, n + 1) if sieve[i])",
        "f(20000)",
    ),
    ("def f(n):\n    return n if n < 2 else f(n - 1) + f(n - 2)", "f(18)"),
    (
        "from collections import Counter\nimport itertools\n"
        "def f(words):\n"
        "    pairs = itertools.combinations(sorted(set(words)), 2)\n"
        "    return Counter(words).most_common(2), len(list(pairs))",
        "f('a b a c b a d'.split())",
    ),
    (
        "import json\ndef f(d):\n    return json.dumps(d, sort_keys=True)",
        "f({'b': [1, 2], 'a': 0})",
    ),
    ("for i in range(200):\n    print(i, i * i)\ndef f():\n    return 'done'", "f()"),
    ("import re\ndef f(text):\n    return re.findall(r'[a-z]+\\d', text)", "f('ab1 cd22 e3')"),
]


def raw_source(code: str, call: str) -> str:
    """The program as `python -c` runs it: the value printed last, after a marker line."""
    return f"{code}\nimport sys\nsys.stdout.write('\\n=' + repr({call}))\n"


def raw_run(flags: tuple[str, ...], code: str, call: str) -> str:
    done = subprocess.run(
        [sys.executable, *flags, "-c", raw_source(code, call)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def raw_pass(
    flags: tuple[str, ...], jobs: list[tuple[str, str]], concurrency: int, expected: list[str]
) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        outputs = list(pool.map(lambda job: raw_run(flags, *job), jobs))
    seconds = time.perf_counter() - t0
    assert outputs == expected
    return seconds


async def sandbox_pass(sandbox: Sandbox, jobs: list[tuple[str, str]], expected: list[str]) -> float:
    t0 = time.perf_counter()
    outcomes = await asyncio.gather(*(sandbox.run(code, call=call) for code, call in jobs))
    seconds = time.perf_counter() - t0
    got = [f"{o.stdout}\n={o.value}" for o in outcomes]
    bad = [o for o in outcomes if not o.ok]
    assert not bad and got == expected, (bad[:1], got[:2], expected[:2])
    return seconds


async def compare(
    label: str,
    rounds: int,
    raws: dict[str, Callable[[], float]],
    ours: Callable[[], Awaitable[float]],
    n: int,
) -> dict[str, float]:
    """Alternate each raw baseline and the sandbox; medians as programs/s and their ratios."""
    times: dict[str, list[float]] = {name: [] for name in [*raws, "sandbox"]}
    for r in range(rounds):
        for name, raw in raws.items():
            times[name].append(raw())
        times["sandbox"].append(await ours())
        line = ", ".join(f"{k} {n / v[-1]:.1f}" for k, v in times.items())
        print(f"{label} round {r + 1}/{rounds}: programs/s {line}", flush=True)
    rates = {k: n / statistics.median(v) for k, v in times.items()}
    return {**rates, **{f"ratio_vs_{k}": rates["sandbox"] / rates[k] for k in raws}}


async def startup(sandbox: Sandbox, samples: int) -> dict[str, float]:
    """Median round trip of `pass`: through the sandbox, and as `python -c pass`."""
    ours, raw = [], []
    for _ in range(samples):
        t0 = time.perf_counter()
        outcome = await sandbox.run("pass")
        ours.append(time.perf_counter() - t0)
        assert outcome.ok
        raw.append(raw_pass((), [("pass", "None")], 1, ["\n=None"]))
    return {"sandbox_ms": statistics.median(ours) * 1e3, "raw_ms": statistics.median(raw) * 1e3}


@dataclass(frozen=True)
class Figures:
    concurrent: dict[str, float]
    sequential: dict[str, float]
    startup: dict[str, float]
    server_start_ms: float
    programs: int


async def run(args: argparse.Namespace) -> Figures:
    jobs = PROGRAMS * args.repeat
    expected = [raw_run((), *job) for job in jobs]
    t0 = time.perf_counter()
    sandbox = Sandbox(SandboxConfig(max_concurrent=args.concurrency))
    await sandbox.start()
    server_start_ms = (time.perf_counter() - t0) * 1e3
    print(f"fork server started in {server_start_ms:.0f} ms", flush=True)
    try:
        await sandbox_pass(sandbox, jobs, expected)  # warm
        concurrent = await compare(
            f"{args.concurrency} in flight",
            args.rounds,
            {
                "python_c": lambda: raw_pass((), jobs, args.concurrency, expected),
                "python_S_c": lambda: raw_pass(("-S",), jobs, args.concurrency, expected),
            },
            lambda: sandbox_pass(sandbox, jobs, expected),
            len(jobs),
        )
        one = Sandbox(SandboxConfig(max_concurrent=1))
        await one.start()
        sequential = await compare(
            "one at a time",
            max(2, args.rounds // 2),
            {"python_c": lambda: raw_pass((), jobs, 1, expected)},
            lambda: sandbox_pass(one, jobs, expected),
            len(jobs),
        )
        start = await startup(one, args.startup_samples)
        await one.aclose()
    finally:
        await sandbox.aclose()
    return Figures(concurrent, sequential, start, server_start_ms, len(jobs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=8, help="copies of each program per pass")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--startup-samples", type=int, default=30)
    args = ap.parse_args()
    try:
        figures = asyncio.run(run(args))
    except SandboxUnavailableError as e:  # not Linux or not root: nothing to measure here
        print(f"bench/sandbox.py: {e}", file=sys.stderr)
        print(json.dumps({"bench": "sandbox", "skipped": e.missing}))
        return
    c, s, st = figures.concurrent, figures.sequential, figures.startup
    print(f"{figures.programs} programs a pass, every limit on")
    print(f"{'':22}{'python -c':>12}{'python -S -c':>14}{'sandbox':>10}{'ratio':>8}")
    print(
        f"{f'{args.concurrency} in flight':22}{c['python_c']:12.1f}{c['python_S_c']:14.1f}"
        f"{c['sandbox']:10.1f}{c['ratio_vs_python_c']:8.2f}"
    )
    print(
        f"{'one at a time':22}{s['python_c']:12.1f}{'':14}{s['sandbox']:10.1f}"
        f"{s['ratio_vs_python_c']:8.2f}"
    )
    print(
        f"start-up per program: sandbox {st['sandbox_ms']:.1f} ms, python -c pass "
        f"{st['raw_ms']:.1f} ms; fork server start {figures.server_start_ms:.0f} ms (once)"
    )
    result = {
        "bench": "sandbox",
        "programs": figures.programs,
        "concurrency": args.concurrency,
        "programs_ratio": round(c["ratio_vs_python_c"], 3),
        "programs_ratio_vs_python_S": round(c["ratio_vs_python_S_c"], 3),
        "programs_ratio_sequential": round(s["ratio_vs_python_c"], 3),
        "programs_per_s": {k: round(v, 1) for k, v in c.items() if not k.startswith("ratio")},
        "startup_ms": round(st["sandbox_ms"], 2),
        "raw_startup_ms": round(st["raw_ms"], 2),
        "server_start_ms": round(figures.server_start_ms, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
