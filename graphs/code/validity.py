"""Is a proposed task valid? Checked in code, in order, failing closed; and the one sandbox.

1. it splits into a program and an input (prompts.parse_proposal);
2. the program parses, defines `f` of one argument at top level, is at most
   `max_program_chars` long and (with `exact_steps`) has exactly the asked number of
   statements before its return;
3. it uses nothing banned, checked on the syntax tree before anything runs: no import
   outside a small pure allow-list, no `open`/`exec`/`eval`/`__import__`-style builtins, no
   dunder attribute or name (the usual ways out of a restricted namespace). The sandbox contains
   whatever slips through; the check keeps tasks about computing, not about the machine;
4. the input is a short Python literal, passed to `f` as a literal only (the sandbox's rule: a
   program could forge a value computed from anything else);
5. it runs twice in the sandbox within the limits, both times `ok`, with equal
   `outcome.result` (deterministic: PYTHONHASHSEED is fixed, so only real randomness or time
   differs);
6. its output is a short Python literal (`ast.literal_eval` of the repr), so answers compare.

A run the sandbox itself lost (`lost`) decides nothing: the check says so and the episode is not
scored. `sandbox_for()` is the process's sandbox, one per event loop, started on first use.
"""

from __future__ import annotations

import ast
import asyncio
import warnings
import weakref
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sparring.graphs.code.config import CodeConfig
from sparring.graphs.code.prompts import canonical, parse_proposal
from sparring.tools.sandbox import Outcome, Sandbox

__all__ = ["ALLOWED_IMPORTS", "BANNED_NAMES", "Check", "check_proposal", "sandbox_for", "steps_of"]

ALLOWED_IMPORTS = frozenset({"math", "itertools", "functools", "collections", "string", "heapq"})
"""Modules a program may import: pure computation, no I/O, time, randomness or processes."""

BANNED_NAMES = frozenset(
    {
        "open", "exec", "eval", "compile", "input", "breakpoint", "globals", "locals", "vars",
        "getattr", "setattr", "delattr", "memoryview", "help", "exit", "quit",
    }
)  # fmt: skip
"""Builtins a program may not name."""

_SANDBOXES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Sandbox] = (
    weakref.WeakKeyDictionary()
)


def sandbox_for() -> Sandbox:
    """The sandbox of the running event loop (its fork server starts on the first run)."""
    loop = asyncio.get_running_loop()
    if loop not in _SANDBOXES:
        _SANDBOXES[loop] = Sandbox()
    return _SANDBOXES[loop]


class Check(BaseModel):
    """The verdict on one proposal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Literal["valid", "invalid", "lost"] = Field(
        description="valid; invalid (a check failed: the format penalty); lost (the sandbox "
        "could not finish a run: not scored)."
    )
    reason: str = Field(description="Which check decided, in words.")
    program: str = Field(default="", description="The program's source.")
    input: str | None = Field(default=None, description="Canonical repr of the input.")
    output: str | None = Field(default=None, description="Canonical repr of f(input).")
    steps: int | None = Field(default=None, description="Statements before f's return.")

    @property
    def valid(self) -> bool:
        return self.status == "valid"


def steps_of(tree: ast.Module) -> int | None:
    """Statements in the body of the top-level `def f(x)` before its final return (None: no
    such function)."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "f":
            args = node.args
            if len(args.args) != 1 or args.vararg or args.kwarg or args.kwonlyargs:
                return None
            body = node.body
            return len(body) - 1 if isinstance(body[-1], ast.Return) else len(body)
    return None


def _banned(tree: ast.Module) -> str | None:
    """What the program uses that is banned, or None."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            for name in names:
                if (name or "").split(".")[0] not in ALLOWED_IMPORTS:
                    return f"imports {name!r} (allowed: {', '.join(sorted(ALLOWED_IMPORTS))})"
        elif isinstance(node, ast.Name) and (node.id in BANNED_NAMES or node.id.startswith("__")):
            return f"uses the name {node.id!r}"
        elif isinstance(node, ast.Attribute) and node.attr.startswith("__"):
            return f"uses the attribute {node.attr!r}"
    return None


def _static(text: str, difficulty: int, cfg: CodeConfig) -> Check:
    """Checks 1-4, before anything runs."""
    split = parse_proposal(text)
    if split.reason:
        return Check(status="invalid", reason=split.reason)
    if len(split.program) > cfg.max_program_chars:
        return Check(status="invalid", reason=f"program over {cfg.max_program_chars} characters")
    try:
        with warnings.catch_warnings():  # "invalid decimal literal" and the like, per junk program
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = ast.parse(split.program)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
        return Check(status="invalid", reason=f"does not parse: {type(e).__name__}")
    steps = steps_of(tree)
    if steps is None:
        return Check(status="invalid", reason="no top-level 'def f(x)' of one argument")
    if cfg.exact_steps and steps != difficulty:
        return Check(status="invalid", reason=f"{steps} statements, {difficulty} asked for")
    if banned := _banned(tree):
        return Check(status="invalid", reason=f"banned: {banned}")
    value = canonical(split.input, cfg.max_value_chars)
    if value is None:
        return Check(status="invalid", reason="the input is not a short Python literal")
    return Check(status="valid", reason="static checks", program=split.program, input=value)


async def check_proposal(text: str, difficulty: int, cfg: CodeConfig) -> Check:
    """Every check above, in order; runs the program twice only when the static ones pass."""
    static = _static(text, difficulty, cfg)
    if not static.valid:
        return static
    assert static.input is not None
    sandbox = sandbox_for()
    call = f"f({static.input})"
    runs = await asyncio.gather(*(sandbox.run(static.program, call, cfg.limits) for _ in "12"))
    return _judge_runs(static, runs, cfg)


def _judge_runs(static: Check, runs: list[Outcome], cfg: CodeConfig) -> Check:
    """Checks 5-6 over the two runs."""
    if any(r.status == "lost" for r in runs):
        return static.model_copy(update={"status": "lost", "reason": "the sandbox lost a run"})
    first, second = runs
    if not first.ok:
        why = first.limit or first.error or first.signal or first.status
        return static.model_copy(update={"status": "invalid", "reason": f"{first.status}: {why}"})
    if first.result != second.result:
        return static.model_copy(update={"status": "invalid", "reason": "not deterministic"})
    output = canonical(first.value or "", cfg.max_value_chars)
    if output is None:
        return static.model_copy(
            update={"status": "invalid", "reason": "the output is not a short Python literal"}
        )
    steps = steps_of(ast.parse(static.program))
    return static.model_copy(update={"reason": "valid", "output": output, "steps": steps})
