"""The code graph: propose -> check (sandbox) -> n concurrent solves (sandbox for abduction).

    START -> propose --invalid or lost--> END
                     \\--valid--> solve (x n, concurrently, via Send) -> END

`propose` asks the type's proposer for a program and an input (or, with `tasks="oracle"`, takes
the generated program of the task) and checks it (validity.py: static checks, then two sandbox
runs). A valid task goes to n solvers of the type: deduction is told the input and answers the
output, judged by comparing literals; abduction is told the output and answers an input, judged
by running the program on it in the sandbox.
"""

from __future__ import annotations

import operator
import time
from typing import Annotated, Any, TypedDict, cast

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send
from pydantic import BaseModel, ConfigDict, Field

from sparring.errors import GameError
from sparring.graphs.code.config import CodeConfig, TaskType
from sparring.graphs.code.prompts import canonical, parse_answer, proposer_messages, solver_messages
from sparring.graphs.code.source import proposer_role, solver_role
from sparring.graphs.code.validity import Check, check_proposal, sandbox_for
from sparring.graphs.policies import Policies
from sparring.messages import Task
from sparring.policy.base import Policy, SamplingParams
from sparring.roles.call import ask, record, unrecorded

__all__ = ["Attempt", "CodeState", "attempt", "build", "start"]


class Attempt(BaseModel):
    """One solver's attempt, judged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call_id: str | None = Field(description="The solver's recorded call.")
    answer: str | None = Field(description="Canonical repr of its answer (None: unreadable).")
    correct: bool = Field(description="The answer is right (by comparison or by running).")
    lost: bool = Field(default=False, description="The sandbox lost the check: not scored.")
    reason: str = Field(description="Why it is right or wrong.")


class CodeState(TypedDict, total=False):
    """The episode's state as the nodes pass it along."""

    type: TaskType
    difficulty: int
    references: list[str]
    oracle: dict[str, str] | None
    proposer_call: str | None
    check: Check
    attempts: Annotated[list[Attempt], operator.add]  # one per solver, appended concurrently


def start(task: Task, cfg: CodeConfig) -> dict[str, Any]:
    """The input state for `task`; refuses params outside the game's range."""
    p = task.params
    task_type, difficulty = p.get("type"), p.get("difficulty")
    if task_type not in cfg.task_types:
        raise GameError(f"code task needs params.type in {cfg.task_types}, got {task_type!r}")
    if not isinstance(difficulty, int) or difficulty not in cfg.levels:
        raise GameError(f"code task needs params.difficulty in {cfg.levels}, got {difficulty!r}")
    refs = p.get("references", [])
    oracle = {k: str(p[k]) for k in ("program", "input", "output")} if "program" in p else None
    references = [str(r) for r in refs] if isinstance(refs, list) else []
    return {"type": task_type, "difficulty": difficulty, "references": references, "oracle": oracle}


async def attempt(
    policy: Policy,
    task_type: TaskType,
    check: Check,
    cfg: CodeConfig,
    params: SamplingParams,
    role: str = "solver",
) -> Attempt:
    """Ask `policy` one task of `check` (a valid one) and judge its answer."""
    assert check.input is not None and check.output is not None
    given = check.input if task_type == "deduction" else check.output
    messages = solver_messages(task_type, check.program, given)
    answer, call = await ask(policy, role, messages, params, parse_answer)
    if answer.value is None:
        return Attempt(call_id=call.id, answer=None, correct=False, reason=answer.reason)
    if task_type == "deduction":
        right = answer.value == check.output
        why = "output matches" if right else f"output is {check.output}, not {answer.value}"
        return Attempt(call_id=call.id, answer=answer.value, correct=right, reason=why)
    run = await sandbox_for().run(check.program, f"f({answer.value})", cfg.limits)
    if run.status == "lost":
        return Attempt(call_id=call.id, answer=answer.value, correct=False, lost=True,
                       reason="the sandbox lost the check")  # fmt: skip
    got = canonical(run.value or "", cfg.max_value_chars) if run.ok else None
    right = got == check.output
    why = f"f({answer.value}) = {got}" if run.ok else f"f({answer.value}): {run.status}"
    return Attempt(call_id=call.id, answer=answer.value, correct=right, reason=why)


def build(policies: Policies, cfg: CodeConfig) -> Any:
    """Compile the code graph over `policies` (done once per worker)."""
    proposers = {t: policies.for_role(proposer_role(t)) for t in cfg.task_types}
    solvers = {t: policies.for_role(solver_role(t)) for t in cfg.task_types}

    async def propose(state: CodeState) -> dict[str, Any]:
        if (oracle := state.get("oracle")) is not None:
            check = Check(status="valid", reason="oracle task", steps=state["difficulty"], **oracle)
            return {"check": check, "proposer_call": None}
        task_type, policy = state["type"], proposers[state["type"]]
        messages = proposer_messages(task_type, state["difficulty"], state["references"])
        started, t0 = time.time(), time.perf_counter()
        generation = await unrecorded(policy).generate(messages, cfg.proposer)
        duration = time.perf_counter() - t0
        check = await check_proposal(generation.text, state["difficulty"], cfg)
        call = record(policy, proposer_role(task_type), messages, generation,
                      started_at=started, duration_s=duration,
                      parsed=check.model_dump(mode="json"))  # fmt: skip
        return {"check": check, "proposer_call": call.id}

    def fan_out(state: CodeState) -> list[Send] | str:
        if not state["check"].valid:
            return END
        payload = {"type": state["type"], "check": state["check"]}
        sends: list[Send] = [Send("solve", payload)] * cfg.n_solvers
        return sends

    async def solve(payload: dict[str, Any]) -> dict[str, Any]:
        task_type = cast(TaskType, payload["type"])
        result = await attempt(solvers[task_type], task_type, payload["check"], cfg, cfg.solver,
                               solver_role(task_type))  # fmt: skip
        return {"attempts": [result]}

    graph = StateGraph(CodeState)
    graph.add_node("propose", propose)
    graph.add_node("solve", solve)
    graph.add_edge(START, "propose")
    graph.add_conditional_edges("propose", fan_out, ["solve", END])
    graph.add_edge("solve", END)
    return graph.compile()
