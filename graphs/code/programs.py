"""The program generator: small, deterministic programs with a difficulty knob, and their traces.

A generated program is a function of one digit, `difficulty` statements long, each adding or
subtracting a digit mod 10:

    def f(x):
        x = (x + 3) % 10
        x = (x - 5) % 10
        return x

Tiny on purpose: the tiny model (policy/tiny.py: 512-token byte-level BPE, 2048 positions) reads
the program in its prompt, so a level-3 program is ~70 tokens. Every value stays a digit, so the
worked traces are arith's scratchpads (LEARNING.md study 2: one operation a step is what a tiny
model learns): deduction runs the program forward from the input ("4+3=7,7-5=2", the output the
last number), abduction runs it backwards from the output, each step inverted ("2+5=7,7-3=4",
an input the last number). The generator feeds the warm-up demonstrations, the held-out set and
the oracle tasks of the fixed-curriculum baseline; the proposer may write any program the
validity checks accept, and those are judged by running them, never by this module.
"""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict, Field

from sparring.tools.arith import scratchpad

__all__ = ["Program", "heldout_programs", "random_program"]


class Program(BaseModel):
    """One generated program and the input it is asked at."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: tuple[tuple[str, int], ...] = Field(description="(sign, digit) per statement.")
    input: int = Field(ge=0, le=9, description="The digit f is called with.")

    @property
    def source(self) -> str:
        """The program's Python source."""
        body = "".join(f"    x = (x {sign} {k}) % 10\n" for sign, k in self.steps)
        return f"def f(x):\n{body}    return x"

    @property
    def output(self) -> int:
        """f(input), computed here (the game itself runs proposals in the sandbox)."""
        x = self.input
        for sign, k in self.steps:
            x = (x + k if sign == "+" else x - k) % 10
        return x

    def forward_trace(self) -> str:
        """Deduction's worked answer: each statement applied to the input, e.g. '4+3=7,7-5=2'."""
        return scratchpad(f"{self.input}" + "".join(f"{s}{k}" for s, k in self.steps))

    def backward_trace(self) -> str:
        """Abduction's worked answer: each statement undone from the output, last one first."""
        undo = "".join(f"{'-' if s == '+' else '+'}{k}" for s, k in reversed(self.steps))
        return scratchpad(f"{self.output}{undo}")


def random_program(rng: random.Random, difficulty: int) -> Program:
    """A program of `difficulty` statements and a random input."""
    steps = tuple((rng.choice("+-"), rng.randrange(1, 10)) for _ in range(difficulty))
    return Program(steps=steps, input=rng.randrange(10))


def heldout_programs(difficulty: int, n: int, seed: int) -> list[Program]:
    """The fixed held-out programs of one level (same seed, same programs, everywhere)."""
    rng = random.Random(seed * 1000 + difficulty)
    return [random_program(rng, difficulty) for _ in range(n)]
