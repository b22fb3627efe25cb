"""`sparring sandbox FILE.py [--call EXPR]`: run one file in the sandbox with the default limits
and print its outcome as one JSON line, so anyone can try a program by hand.

The command line is parsed in sparring/cli.py; this is the work. Exit status 0 when the
program's status is "ok", 1 otherwise (the JSON line says why).
"""

from __future__ import annotations

import argparse
import asyncio

from sparring.tools.sandbox.errors import SandboxError
from sparring.tools.sandbox.outcome import Outcome
from sparring.tools.sandbox.sandbox import Sandbox

__all__ = ["main"]


def main(args: argparse.Namespace) -> int:
    try:
        code = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SandboxError(f"cannot read {args.file}: {e}") from None
    outcome = asyncio.run(_run(code, args.call))
    print(outcome.model_dump_json(), flush=True)
    return 0 if outcome.ok else 1


async def _run(code: str, call: str | None) -> Outcome:
    async with Sandbox() as sandbox:
        return await sandbox.run(code, call=call)
