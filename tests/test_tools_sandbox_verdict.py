"""The sandbox's verdict over what the fork server saw, path by path, and the parts of it that
need no root: the limits' bounds, the outcome's shape, the seccomp syscall table."""

from __future__ import annotations

import re
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from sparring.tools.sandbox import Limits, Outcome, SandboxConfig
from sparring.tools.sandbox._forkserver import seccomp
from sparring.tools.sandbox._forkserver.cgroups import GroupStats
from sparring.tools.sandbox._forkserver.verdict import Facts, lost, verdict

LIMITS = Limits().model_dump()
CLEAN = Facts(
    limits=LIMITS,
    wait_status=0,  # exited 0
    cpu_s=0.01,
    wall_s=0.02,
    stdout=b"hello\n",
    stderr=b"",
    report=b'{"value": "42"}',
    truncated=False,
    killed_for=None,
    stats=GroupStats(oom_kills=0, fork_refusals=0, memory_peak=1 << 20),
    asked=True,
)
KILLED = signal.SIGKILL.value  # the wait status of a process SIGKILL ended


def judged(**changes: Any) -> Outcome:
    return Outcome.model_validate(verdict(replace(CLEAN, **changes)))


def exited(code: int) -> int:
    return code << 8


def test_a_clean_run_is_ok_with_its_value_and_output() -> None:
    outcome = judged()
    assert (outcome.status, outcome.value, outcome.stdout, outcome.exit_code) == (
        "ok",
        "42",
        "hello\n",
        0,
    )
    assert outcome.memory_peak_mb == 1.0


def test_a_server_kill_names_its_limit_before_the_signal_does() -> None:
    wall = judged(wait_status=KILLED, killed_for="wall")
    output = judged(wait_status=KILLED, killed_for="output", truncated=True)
    closed = judged(wait_status=KILLED, killed_for="closed")
    assert (wall.status, wall.limit, wall.signal) == ("timeout", "wall", "SIGKILL")
    assert (output.status, output.limit, output.truncated) == ("limit", "output", True)
    assert closed.status == "lost"
    assert wall.value is None  # a value is only given when ok


def test_a_kernel_kill_is_memory_when_the_group_oom_killed_else_cpu() -> None:
    oom = GroupStats(oom_kills=1, fork_refusals=0, memory_peak=256 << 20)
    memory = judged(wait_status=KILLED, stats=oom)
    cpu = judged(wait_status=KILLED, cpu_s=4.75)  # rusage may miss stolen time
    assert (memory.status, memory.limit) == ("limit", "memory")
    assert (cpu.status, cpu.limit) == ("timeout", "cpu")


def test_other_signals_are_crashes() -> None:
    outcome = judged(wait_status=signal.SIGSEGV.value)
    assert (outcome.status, outcome.signal, outcome.limit) == ("crash", "SIGSEGV", None)


def test_a_limit_the_program_met_explains_its_error() -> None:
    memory = judged(wait_status=exited(1), report=b'{"error": "MemoryError: ", "limit": "memory"}')
    refused = GroupStats(oom_kills=0, fork_refusals=3, memory_peak=0)
    bomb = judged(wait_status=exited(1), report=b'{"error": "BlockingIOError: x"}', stats=refused)
    assert (memory.status, memory.limit) == ("limit", "memory")
    assert (bomb.status, bomb.limit) == ("limit", "processes")
    assert bomb.error is not None and bomb.error.startswith("BlockingIOError: x (a fork was")


def test_errors_say_what_happened() -> None:
    raised = judged(wait_status=exited(1), report=b'{"error": "ValueError: bad"}')
    status = judged(wait_status=exited(3), report=b"{}", asked=False)
    silent = judged(report=b"")  # os._exit(0) before the call: no value
    quiet = judged(report=b"", asked=False)  # os._exit(0), nothing asked: fine
    assert (raised.status, raised.error) == ("error", "ValueError: bad")
    assert (status.status, status.error) == ("error", "exited with status 3")
    assert (silent.status, silent.error) == ("error", "exited before the value")
    assert quiet.status == "ok"


def test_a_forged_or_oversized_report_is_not_believed() -> None:
    forged = judged(report=b'{"value": "1"}{"value": "2"}')
    oversized = judged(report=b"x" * (LIMITS["output_bytes"] + 2000))
    assert forged.status == "error" and "not JSON" in (forged.error or "")
    assert (oversized.status, oversized.limit) == ("limit", "output")


def test_a_setup_failure_is_lost_not_the_programs_fault() -> None:
    outcome = judged(wait_status=exited(70), report=b'{"setup_error": "OSError: no netns"}')
    assert outcome.status == "lost" and "no netns" in (outcome.error or "")
    assert Outcome.model_validate(lost("gone")).status == "lost"


def test_output_is_cut_at_the_cap_and_decoded_leniently() -> None:
    limits = {**LIMITS, "output_bytes": 4}
    outcome = judged(limits=limits, stdout=b"\xffabcdef", truncated=True, killed_for="output")
    assert outcome.stdout == "\ufffdabc" and outcome.truncated


def test_results_compare_what_the_program_did_not_how_long_it_took() -> None:
    assert judged(cpu_s=0.5, wall_s=0.9).result == judged().result
    assert judged(stdout=b"other").result != judged().result


def test_limits_and_config_refuse_what_would_break_confinement() -> None:
    with pytest.raises(ValidationError):
        Limits(memory_mb=16)  # below what a forked interpreter already maps
    with pytest.raises(ValidationError):
        SandboxConfig(uid=0)  # root
    with pytest.raises(ValidationError):
        SandboxConfig(uid=(1 << 32) - 1)  # setresuid(-1) changes nothing


@pytest.mark.parametrize(
    ("machine", "header"),
    [
        ("x86_64", "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
        ("aarch64", "/usr/include/asm-generic/unistd.h"),
    ],
)
def test_the_seccomp_table_matches_the_kernel_headers(machine: str, header: str) -> None:
    path = Path(header)
    if not path.exists():
        pytest.skip(f"{header} is not installed (linux-libc-dev)")
    numbers = dict(re.findall(r"#define __NR(?:3264)?_(\w+)\s+(\d+)", path.read_text()))
    for name in ("clone", "clone3", *seccomp.DENIED):
        assert seccomp.syscall_number(name, machine) == int(numbers[name]), name


def test_the_seccomp_program_is_whole_instructions() -> None:
    for machine in ("x86_64", "aarch64"):
        program = seccomp._program(machine)
        assert len(program) % 8 == 0 and len(program) // 8 < 4096  # the kernel's BPF_MAXINSNS
