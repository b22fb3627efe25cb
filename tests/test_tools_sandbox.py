"""The code sandbox against real hostile programs, on this machine's real kernel.

Every hostile program is run through a real fork server, and each test then checks the host,
not only the outcome: the server is still the same live process, no process of the sandbox uid
is left anywhere, the run's cgroups are gone, the file outside was not written, the listener got
no connection, and a normal program still runs right afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sparring.cli import main as cli_main
from sparring.tools.sandbox import (
    Limits,
    Outcome,
    Sandbox,
    SandboxConfig,
    SandboxUnavailableError,
)
from sparring.tools.sandbox._forkserver.cgroups import own_group

NOBODY = 65534
FAST = Limits(wall_s=5.0, cpu_s=2)


def confinable() -> bool:
    """Linux, root and cgroup v1 pids and memory: what the sandbox needs (else it refuses)."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return False
    try:
        own_group("pids"), own_group("memory")
    except OSError:
        return False
    return True


CONFINABLE = confinable()
needs_confinement = pytest.mark.skipif(
    not CONFINABLE, reason="needs Linux, root and cgroup v1 (the refusal is tested instead)"
)


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(SandboxConfig(limits=FAST)) as box:
        yield box


def nobody_processes() -> list[int]:
    """pids of every live process on the host running as the sandbox's uid. Zombies are left
    out: a child orphaned by a killed server is reaped by the machine's init, in its own time."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                lines = (entry / "status").read_text().splitlines()
            except OSError:
                continue  # it exited meanwhile
            fields = {k: v.split() for k, _, v in (line.partition(":") for line in lines)}
            if int(fields["Uid"][0]) == NOBODY and fields["State"][0] != "Z":
                found.append(int(entry.name))
    return found


def run_groups(server_pid: int) -> list[str]:
    """The per-run cgroup folders the server has not removed."""
    parents = [Path(own_group(c)) / f"sparring-sandbox-{server_pid}" for c in ("pids", "memory")]
    return [p.name for parent in parents for p in parent.iterdir() if p.is_dir()]


async def assert_host_unharmed(sandbox: Sandbox, server_pid: int | None) -> None:
    assert server_pid is not None and sandbox.server_pid == server_pid
    os.kill(server_pid, 0)  # the same fork server is alive
    assert nobody_processes() == []
    assert run_groups(server_pid) == []
    after = await sandbox.run("x = 6 * 7", call="x")
    assert after.status == "ok" and after.value == "42"
    assert sandbox.restarts == 0


async def run_hostile(sandbox: Sandbox, code: str, limits: Limits | None = None) -> Outcome:
    pid = sandbox.server_pid
    outcome = await sandbox.run(code, limits=limits)
    await assert_host_unharmed(sandbox, pid)
    return outcome


# Normal programs


@needs_confinement
async def test_a_call_returns_the_repr_of_its_value_and_the_output(sandbox: Sandbox) -> None:
    code = "def f(x):\n    return [i * i for i in range(x)]\nprint('computing')\n"
    outcome = await sandbox.run(code, call="f(4)")
    assert outcome.status == "ok" and outcome.limit is None and outcome.error is None
    assert outcome.value == "[0, 1, 4, 9]"
    assert outcome.stdout == "computing\n"
    assert outcome.exit_code == 0 and outcome.signal is None


@needs_confinement
async def test_an_exception_is_an_error_with_its_message_and_traceback(sandbox: Sandbox) -> None:
    outcome = await sandbox.run("def f(x):\n    return 1 / x\n", call="f(0)")
    assert outcome.status == "error" and outcome.value is None
    assert outcome.error == "ZeroDivisionError: division by zero"
    assert "Traceback" in outcome.stderr and outcome.exit_code == 1


@needs_confinement
async def test_exit_statuses_are_kept_and_an_early_exit_has_no_value(sandbox: Sandbox) -> None:
    three, zero = await asyncio.gather(
        sandbox.run("import sys; sys.exit(3)"), sandbox.run("exit(0)")
    )
    assert (three.status, three.exit_code) == ("error", 3)
    assert (zero.status, zero.exit_code) == ("ok", 0)
    early = await sandbox.run("raise SystemExit", call="1")
    assert early.status == "error" and early.error is not None and "exited before" in early.error


@needs_confinement
async def test_the_same_program_gives_the_same_result_every_time(sandbox: Sandbox) -> None:
    code = "s = {'apple', 'pear', 'fig', 'plum', 'kiwi'}\nprint(list(s), hash('abc'))"
    first, second = await sandbox.run(code), await sandbox.run(code)
    assert first.status == "ok" and first.result == second.result
    async with Sandbox(SandboxConfig(limits=FAST)) as other:  # a new server, the same hashes
        assert (await other.run(code)).result == first.result


@needs_confinement
async def test_many_programs_at_once_each_get_their_own_result(sandbox: Sandbox) -> None:
    code = "import sys\ndef f(n):\n    return sum(range(n))\nprint('run', {n})"
    outcomes = await asyncio.gather(
        *(sandbox.run(code.format(n=n), call=f"f({n})") for n in range(48))
    )
    assert [o.value for o in outcomes] == [str(sum(range(n))) for n in range(48)]
    assert [o.stdout for o in outcomes] == [f"run {n}\n" for n in range(48)]


@needs_confinement
async def test_programs_see_the_standard_library_and_nothing_installed(sandbox: Sandbox) -> None:
    stdlib = "import collections, decimal, fractions, hashlib, json, math, re, zlib\nx = 1"
    assert (await sandbox.run(stdlib, call="x")).value == "1"
    installed = await sandbox.run("import pydantic")
    assert installed.status == "error" and "ModuleNotFoundError" in (installed.error or "")


@needs_confinement
async def test_each_run_gets_a_fresh_empty_directory(sandbox: Sandbox) -> None:
    write = "import os\nopen('note', 'w').write('left for the next one')\nopen('/tmp/t', 'w')\n"
    write += "print(os.getcwd(), sorted(os.listdir('.')))"
    first = await sandbox.run(write)
    assert first.stdout == "/work ['note', 't']\n"
    second = await sandbox.run("import os\nprint(os.listdir('.'), os.listdir('/tmp'))")
    assert second.stdout == "[] []\n"


@needs_confinement
async def test_a_program_finds_no_trace_of_another_in_its_memory(sandbox: Sandbox) -> None:
    token = secrets.token_hex(16)
    holder = asyncio.create_task(
        sandbox.run(f"print({token!r}, flush=True)\nimport time\ntime.sleep(2)")
    )
    await asyncio.sleep(0.5)  # its code and output are in the fork server by now
    mine = secrets.token_hex(8)
    snoop = (
        "import gc, sys\n"
        f"theirs = 'x'.join({token[:16]!r}.split('x')) + {token[16:]!r}\n"  # not in its code
        "def count(marker):\n"
        "    frames, frame = [], sys._getframe()\n"
        "    while frame is not None:\n"
        "        frames.append(frame.f_locals)\n"
        "        frame = frame.f_back\n"
        "    hits = 0\n"
        "    for o in gc.get_objects() + frames:\n"
        "        items = o.values() if isinstance(o, dict) else o if isinstance(o, list) else ()\n"
        "        for v in list(items):\n"
        "            if isinstance(v, (bytes, bytearray)):\n"
        "                v = v.decode('latin-1')\n"
        "            hits += isinstance(v, str) and v is not marker and marker in v\n"
        "    return hits\n"
        f"print(count(theirs), count({mine!r}) > 0)\n"
    )
    found = await sandbox.run(snoop)
    assert (await holder).stdout == f"{token}\n"
    # It finds its own request (the scan reaches request data) and nothing of the other run.
    assert found.status == "ok" and found.stdout == "0 True\n"


# Hostile programs: each contained, the host checked afterwards


@needs_confinement
async def test_an_infinite_loop_ends_at_the_cpu_limit(sandbox: Sandbox) -> None:
    outcome = await run_hostile(sandbox, "while True:\n    pass", Limits(cpu_s=1, wall_s=10))
    assert (outcome.status, outcome.limit) == ("timeout", "cpu")
    assert 0.5 <= outcome.cpu_s < 2 and outcome.wall_s < 10


@needs_confinement
async def test_sleeping_forever_ends_at_the_wall_time_limit(sandbox: Sandbox) -> None:
    outcome = await run_hostile(sandbox, "import time\ntime.sleep(1e6)", Limits(wall_s=1.0))
    assert (outcome.status, outcome.limit, outcome.signal) == ("timeout", "wall", "SIGKILL")
    assert 1.0 <= outcome.wall_s < 3 and outcome.cpu_s < 0.5


@needs_confinement
async def test_a_fork_bomb_stays_inside_the_process_limit(sandbox: Sandbox) -> None:
    bomb = "import os\nwhile True:\n    os.fork()"
    outcome = await run_hostile(sandbox, bomb, Limits(processes=8, wall_s=5))
    assert (outcome.status, outcome.limit) == ("limit", "processes")
    assert "BlockingIOError" in (outcome.error or "")


@needs_confinement
async def test_a_memory_bomb_ends_at_the_memory_limit(sandbox: Sandbox) -> None:
    bomb = "chunks = []\nwhile True:\n    chunks.append(bytearray(8 << 20))"
    outcome = await run_hostile(sandbox, bomb, Limits(memory_mb=128))
    assert (outcome.status, outcome.limit) == ("limit", "memory")
    assert outcome.memory_peak_mb <= 128


@needs_confinement
async def test_memory_spread_over_processes_is_capped_for_all_of_them(sandbox: Sandbox) -> None:
    # Each child fits its own address-space limit; the four together do not fit the group.
    code = (
        "import os, time\n"
        "kids = []\n"
        "for _ in range(4):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        block = bytearray(100 << 20)\n"
        "        time.sleep(1)\n"
        "        os._exit(0)\n"
        "    kids.append(pid)\n"
        "print(sorted(os.waitstatus_to_exitcode(os.waitpid(k, 0)[1]) for k in kids))\n"
    )
    outcome = await run_hostile(sandbox, code, Limits(memory_mb=192, processes=8))
    assert outcome.memory_peak_mb <= 192
    killed = outcome.status == "limit" and outcome.limit == "memory"
    assert killed or "-9" in outcome.stdout  # the group's OOM killer ended one or more


@needs_confinement
async def test_an_output_flood_is_cut_at_the_cap_and_ended(sandbox: Sandbox) -> None:
    flood = "while True:\n    print('x' * 1000)"
    outcome = await run_hostile(sandbox, flood, Limits(output_bytes=10_000, cpu_s=5, wall_s=5))
    assert (outcome.status, outcome.limit, outcome.truncated) == ("limit", "output", True)
    assert outcome.stdout == ("x" * 1000 + "\n") * 9 + "x" * 991
    assert outcome.wall_s < 2  # ended at the cap, not at a time limit


@needs_confinement
async def test_filling_the_disk_ends_at_the_disk_limit(sandbox: Sandbox) -> None:
    fill = "with open('big', 'wb') as f:\n    f.write(bytes(64 << 20))"
    outcome = await run_hostile(sandbox, fill, Limits(disk_mb=8))
    assert (outcome.status, outcome.limit) == ("limit", "disk")


@needs_confinement
async def test_writing_outside_its_directory_fails_everywhere(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    marker = f"sparring-escape-{secrets.token_hex(4)}"
    targets = [tmp_path / "escaped", Path("/tmp") / marker, Path("/usr/lib") / marker]
    targets += [Path("/") / marker, Path("/dev") / marker, Path("/proc") / marker]
    code = (
        "import os\n"
        f"for path in {[str(t) for t in targets]!r} + ['../' + {marker!r}]:\n"
        "    try:\n"
        "        open(path, 'w').write('escaped')\n"
        "        print('wrote', path)\n"
        "    except OSError as e:\n"
        "        print('refused', path, type(e).__name__)\n"
        "try:\n"
        "    os.chroot('/work')\n"
        "except OSError as e:\n"
        "    print('chroot', type(e).__name__)\n"
    )
    outcome = await run_hostile(sandbox, code)
    lines = outcome.stdout.splitlines()
    # /tmp is the run's own directory; everything else is refused.
    assert lines[1] == f"wrote /tmp/{marker}"
    assert sum(line.startswith("refused") for line in lines) == len(targets)
    assert lines[-1] == "chroot PermissionError"
    assert not (tmp_path / "escaped").exists()
    for path in (Path("/tmp") / marker, Path("/usr/lib") / marker, Path("/") / marker):
        assert not path.exists()


@needs_confinement
async def test_the_parents_environment_and_files_stay_secret(tmp_path: Path) -> None:
    token = secrets.token_hex(16)
    os.environ["SPARRING_SANDBOX_SECRET"] = token
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(token)
    secret_file.chmod(0o644)
    code = (
        "import os\n"
        "print(dict(os.environ))\n"
        "paths = [f'/proc/{n}/environ' for n in os.listdir('/proc') if n.isdigit()]\n"
        f"for path in [*paths, {str(secret_file)!r}, '/etc/passwd', '/root/.bash_history']:\n"
        "    try:\n"
        "        print(open(path).read())\n"
        "    except OSError as e:\n"
        "        print('refused', path, type(e).__name__)\n"
    )
    try:
        async with Sandbox(SandboxConfig(limits=FAST)) as box:
            outcome = await run_hostile(box, code)
    finally:
        del os.environ["SPARRING_SANDBOX_SECRET"]
    assert outcome.status == "ok"
    assert token not in outcome.stdout and token not in outcome.stderr
    assert outcome.stdout.splitlines() == [
        "{}",  # an empty environment
        "refused /proc/1/environ PermissionError",  # not dumpable since it dropped to nobody
        f"refused {secret_file} FileNotFoundError",  # outside its root
        "refused /etc/passwd FileNotFoundError",
        "refused /root/.bash_history FileNotFoundError",
    ]


@needs_confinement
async def test_a_socket_to_a_local_port_reaches_nothing(sandbox: Sandbox) -> None:
    with socket.socket() as listener, socket.socket(type=socket.SOCK_DGRAM) as udp:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        udp.bind(("127.0.0.1", 0))
        tcp_port, udp_port = listener.getsockname()[1], udp.getsockname()[1]
        code = (
            "import socket\n"
            "for attempt in ('tcp', 'udp', 'dns'):\n"
            "    try:\n"
            "        if attempt == 'tcp':\n"
            f"            socket.create_connection(('127.0.0.1', {tcp_port}), timeout=2)\n"
            "        elif attempt == 'udp':\n"
            "            s = socket.socket(type=socket.SOCK_DGRAM)\n"
            f"            s.sendto(b'hello', ('127.0.0.1', {udp_port}))\n"
            "        else:\n"
            "            socket.getaddrinfo('example.com', 80)\n"
            "        print(attempt, 'connected')\n"
            "    except OSError as e:\n"
            "        print(attempt, type(e).__name__)\n"
        )
        outcome = await run_hostile(sandbox, code)
        assert "connected" not in outcome.stdout
        assert outcome.stdout.count("OSError") + outcome.stdout.count("gaierror") == 3
        listener.settimeout(0.3)
        with pytest.raises(TimeoutError):
            listener.accept()
        udp.settimeout(0.3)
        with pytest.raises(TimeoutError):
            udp.recvfrom(100)


@needs_confinement
async def test_spawning_a_process_finds_nothing_to_run(sandbox: Sandbox, tmp_path: Path) -> None:
    marker = tmp_path / "spawned"
    code = (
        "import os, subprocess, sys\n"
        f"command = 'touch {marker}'\n"
        "print(os.system(command))\n"
        "for argv in (['/bin/sh', '-c', command], [sys.executable, '-c', '1'], ['python3']):\n"
        "    try:\n"
        "        subprocess.run(argv)\n"
        "        print('ran', argv[0])\n"
        "    except OSError as e:\n"
        "        print('refused', argv[0], type(e).__name__)\n"
        "with open('tool', 'wb') as f:\n"
        "    f.write(open('/proc/self/exe', 'rb').read())\n"  # the interpreter, copied in
        "os.chmod('tool', 0o755)\n"
        "try:\n"
        "    subprocess.run(['./tool', '-c', '1'])\n"
        "except OSError as e:\n"
        "    print('refused copy', type(e).__name__)\n"
    )
    outcome = await run_hostile(sandbox, code, Limits(disk_mb=64))
    lines = outcome.stdout.splitlines()
    assert lines[0] != "0"  # os.system found no shell
    assert [line.split()[0] for line in lines[1:]] == ["refused"] * 4
    assert lines[-1] == "refused copy PermissionError"  # /work is noexec
    assert not marker.exists()


@needs_confinement
async def test_killing_its_parent_reaches_no_process_outside(sandbox: Sandbox) -> None:
    server = sandbox.server_pid
    code = (
        "import os, signal\n"
        f"for pid in (os.getppid(), {server}, {os.getpid()}, 1, -1):\n"
        "    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n"
        "        print('sent', pid)\n"
        "    except OSError as e:\n"
        "        print('refused', pid, type(e).__name__)\n"
        "os.killpg(0, signal.SIGKILL)\n"
        "print('still here', os.getpid(), os.getppid())\n"
    )
    outcome = await run_hostile(sandbox, code)
    assert f"refused {server} ProcessLookupError" in outcome.stdout  # not in its namespace
    assert f"refused {os.getpid()} ProcessLookupError" in outcome.stdout
    # getppid() is 0 (the parent is outside the namespace); the signals it could send reached
    # only itself, pid 1 of its namespace, which ignores them.
    assert outcome.stdout.endswith("still here 1 0\n")


@needs_confinement
async def test_a_dead_fork_server_is_restarted_and_said_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with Sandbox(SandboxConfig(limits=FAST)) as box:
        first = box.server_pid
        assert first is not None
        running = asyncio.create_task(box.run("import time\ntime.sleep(30)"))
        await asyncio.sleep(0.3)
        os.kill(first, signal.SIGKILL)  # as if a program had managed to kill it
        lost = await running
        assert lost.status == "lost" and "fork server died" in (lost.error or "")
        with caplog.at_level(logging.WARNING, logger="sparring.tools.sandbox.sandbox"):
            after = await box.run("x = 1", call="x + 1")
        assert after.status == "ok" and after.value == "2"
        assert box.restarts == 1 and box.server_pid not in (None, first)
        assert "restart 1" in caplog.text
    assert nobody_processes() == []


@needs_confinement
async def test_a_segfault_is_a_crash_with_its_signal(sandbox: Sandbox) -> None:
    outcome = await run_hostile(sandbox, "import ctypes\nctypes.string_at(0)")
    assert (outcome.status, outcome.signal, outcome.limit) == ("crash", "SIGSEGV", None)


@needs_confinement
async def test_ctypes_calls_into_libc_gain_nothing(sandbox: Sandbox) -> None:
    code = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "calls = {\n"
        "    'setuid': lambda: libc.setuid(0),\n"
        "    'unshare_user': lambda: libc.unshare(0x10000000),\n"
        "    'mount': lambda: libc.mount(b'none', b'/work', b'tmpfs', 0, None),\n"
        "    'add_key': lambda: libc.syscall(248, b'user', b'note', b'x', 1, -4),\n"
        "    'ptrace': lambda: libc.ptrace(16, 1, 0, 0),\n"
        "    'chroot': lambda: libc.chroot(b'/work'),\n"
        "    'system': lambda: libc.system(b'true'),\n"
        "}\n"
        "for name, call in calls.items():\n"
        "    print(name, call(), os.strerror(ctypes.get_errno()))\n"
        "print('uid', libc.getuid(), libc.geteuid())\n"
    )
    outcome = await run_hostile(sandbox, code)
    results = dict(line.split(" ", 1) for line in outcome.stdout.splitlines())
    for name in ("setuid", "unshare_user", "mount", "add_key", "ptrace", "chroot"):
        assert results[name].startswith("-1 "), (name, results[name])
    assert results["unshare_user"] == "-1 Operation not permitted"  # the seccomp filter
    assert results["system"].split()[0] != "0"  # no shell to run
    assert results["uid"] == f"{NOBODY} {NOBODY}"


@needs_confinement
async def test_proc_shows_only_the_programs_own_processes(sandbox: Sandbox) -> None:
    code = (
        "import os\n"
        "print(sorted(n for n in os.listdir('/proc') if n.isdigit()))\n"
        f"for pid in ({os.getpid()}, {sandbox.server_pid}):\n"
        "    try:\n"
        "        open(f'/proc/{pid}/cmdline').read()\n"
        "        print('read', pid)\n"
        "    except OSError as e:\n"
        "        print('refused', type(e).__name__)\n"
        "print(os.path.exists('/proc/kcore'), os.path.exists('/sys/kernel'))\n"
        "import socket\n"
        "print(socket.gethostname())\n"  # its own UTS namespace
    )
    outcome = await run_hostile(sandbox, code)
    assert outcome.stdout.splitlines() == [
        "['1']",
        "refused FileNotFoundError",
        "refused FileNotFoundError",
        "False False",
        "sandbox",
    ]


# The command line and the refusal


@needs_confinement
def test_sparring_sandbox_prints_one_json_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = tmp_path / "prog.py"
    program.write_text("def f(x):\n    return x + 1\nprint('hi')\n")
    assert cli_main(["sandbox", str(program), "--call", "f(41)"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert (line["status"], line["stdout"], line["limit"], line["value"]) == (
        "ok",
        "hi\n",
        None,
        "42",
    )
    program.write_text("import os\nos.fork()\n1 / 0\n")
    assert cli_main(["sandbox", str(program)]) == 1
    line = json.loads(capsys.readouterr().out)
    assert (line["status"], line["limit"], line["exit_code"]) == ("error", None, 1)
    assert line["error"] == "ZeroDivisionError: division by zero"


@needs_confinement
async def test_without_the_privileges_it_needs_the_sandbox_refuses(tmp_path: Path) -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    wrapper = tmp_path / "python-without-capabilities"
    wrapper.write_text(
        f'#!/bin/sh\nexec {setpriv} --bounding-set=-all --inh-caps=-all {sys.executable} "$@"\n'
    )
    wrapper.chmod(0o755)
    box = Sandbox(SandboxConfig(python=str(wrapper)))
    missing = "Permission denied|Operation not permitted"
    with pytest.raises(SandboxUnavailableError, match=missing) as refused:
        await box.start()
    assert "refuses rather than run a program unconfined" in str(refused.value)
    assert nobody_processes() == []


@pytest.mark.skipif(CONFINABLE, reason="confinement works here: the hostile tests run instead")
async def test_where_confinement_is_not_possible_the_sandbox_refuses_to_start() -> None:
    with pytest.raises(SandboxUnavailableError, match="refuses rather than run"):
        await Sandbox().start()
