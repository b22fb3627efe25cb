"""The code game: Absolute Zero (AZR, arXiv 2505.03335) self-play over Python programs.

One shared policy proposes tasks and solves them. The proposer of a task type writes a program
`def f(x)` and an input, shown a few earlier valid tasks of that type from a buffer (buffer.py);
the program is checked in code and run twice in the sandbox (validity.py, tools/sandbox); n
solvers then either deduce the output from the program and the input, or abduce an input from
the program and the output (checked by running it). Solvers are paid by execution, the proposer
by AZR's learnability reward (rewards.py), with a role per (type, role pair) for TRR++'s credit.
The generator (programs.py) writes the warm-up demonstrations, the held-out set and the oracle
tasks of the fixed baseline (heldout.py, source.py).

Where this follows AZR and where the tiny model forces a change:
- as AZR: deduction and abduction from one proposal (a program and an input); validity is
  parsing, running, determinism (two runs agree) and banned modules; the proposer is conditioned
  on references from a buffer of earlier valid tasks; learnability reward, 0 at solve rate 0 or
  1; outputs compared as Python values.
- changed: no induction yet; programs are a function of one argument `f` and the proposer is
  asked for a number of statements (its difficulty, for the curriculum); the references are 2,
  not AZR's K=6, to keep the prompt short; solvers may write a worked trace before the answer
  (the answer follows the last '='); the buffer is per worker in the run directory, not shared;
  the warm-up imitates generated programs before any RL (AZR starts from a pretrained coder).

    from sparring.graphs.code import game, CodeConfig
"""

from sparring.credit import RoleSpec
from sparring.graphs.code.buffer import BufferedTask, TaskBuffer
from sparring.graphs.code.config import TASK_TYPES, CodeConfig, TaskType
from sparring.graphs.code.graph import Attempt, CodeState, build, start
from sparring.graphs.code.heldout import demonstration, evaluate, ready
from sparring.graphs.code.programs import Program, heldout_programs, random_program
from sparring.graphs.code.rewards import score
from sparring.graphs.code.source import CodeTaskSource, proposer_role, solver_role
from sparring.graphs.code.validity import Check, check_proposal, sandbox_for
from sparring.graphs.game import Game

__all__ = [
    "TASK_TYPES",
    "Attempt",
    "BufferedTask",
    "Check",
    "CodeConfig",
    "CodeState",
    "CodeTaskSource",
    "Program",
    "TaskBuffer",
    "TaskType",
    "build",
    "check_proposal",
    "demonstration",
    "evaluate",
    "game",
    "heldout_programs",
    "proposer_role",
    "random_program",
    "ready",
    "sandbox_for",
    "score",
    "solver_role",
    "start",
]


def _roles() -> dict[str, RoleSpec]:
    roles = {}
    for t in TASK_TYPES:
        roles[proposer_role(t)] = RoleSpec(
            estimator="rae", grouping="call", description=f"writes a {t} task: a program, an input"
        )
        roles[solver_role(t)] = RoleSpec(
            estimator="grpo", description=f"solves a {t} task; n attempts form a group"
        )
    return roles


game = Game(
    name="code",
    description="Absolute Zero: propose a Python program and an input; solvers deduce its "
    "output or abduce an input, checked in the sandbox",
    config_model=CodeConfig,
    build=build,
    start=start,
    score=score,
    task_source=CodeTaskSource,
    evaluate=evaluate,
    demonstrations=demonstration,
    ready=ready,
    stateful_source=True,
    roles=_roles(),
)
"""The code Game, as `load_game("code")` returns it."""
