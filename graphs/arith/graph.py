"""The arith graph: propose -> verify -> n concurrent solves -> judge.

    START -> propose -> verify --valid--> solve (x n, concurrently, via Send) -> judge -> END
                               \\-invalid-> END

The proposer gets a target digit and a number of operations and writes an expression; the
rule-based verifier checks it with the safe evaluator; only a valid question is handed to the
n solvers; the rule-based judge compares each final number with the expression's last digit.
Each node is a thin adapter from the state to a role function (roles/ holds the prompts and
parsers); the policies come from `Policies.for_role`, so every call is recorded.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from sparring.errors import GameError
from sparring.graphs.arith.config import ArithConfig
from sparring.graphs.policies import Policies
from sparring.messages import Role, Task
from sparring.roles.judge import Judgement, judge_number
from sparring.roles.proposer import Proposal, propose_expression
from sparring.roles.solver import Solution, solve_expression
from sparring.roles.verifier import Verification, verify_expression

__all__ = ["ArithState", "build", "start"]


class ArithState(TypedDict, total=False):
    """The episode's state as the nodes pass it along."""

    target: int
    difficulty: int
    proposal: Proposal
    verification: Verification
    solutions: Annotated[list[Solution], operator.add]  # one per solver, appended concurrently
    judgements: list[Judgement]


def start(task: Task, cfg: ArithConfig) -> dict[str, Any]:
    """The input state for `task`; refuses params outside the game's range."""
    target, difficulty = task.params.get("target"), task.params.get("difficulty")
    if not isinstance(target, int) or not 0 <= target <= 9:
        raise GameError(f"arith task needs params.target in 0..9, got {target!r}")
    if not isinstance(difficulty, int) or difficulty not in cfg.levels:
        raise GameError(
            f"arith task needs params.difficulty in {cfg.min_difficulty}..{cfg.max_difficulty}, "
            f"got {difficulty!r}"
        )
    return {"target": target, "difficulty": difficulty}


def build(policies: Policies, cfg: ArithConfig) -> Any:
    """Compile the arith graph over `policies` (done once per worker)."""
    proposer, solver = policies.for_role(Role.PROPOSER), policies.for_role(Role.SOLVER)

    async def propose(state: ArithState) -> dict[str, Any]:
        proposal = await propose_expression(
            proposer, state["target"], state["difficulty"], cfg.proposer, cfg.max_chars
        )
        return {"proposal": proposal}

    async def verify(state: ArithState) -> dict[str, Any]:
        verdict = await verify_expression(state["proposal"], state["target"], state["difficulty"])
        return {"verification": verdict}

    def fan_out(state: ArithState) -> list[Send] | str:
        if not state["verification"].valid:
            return END
        return [Send("solve", {"expression": state["proposal"].expression})] * cfg.n_solvers

    async def solve(payload: dict[str, Any]) -> dict[str, Any]:
        return {"solutions": [await solve_expression(solver, payload["expression"], cfg.solver)]}

    async def judge(state: ArithState) -> dict[str, Any]:
        expected = state["verification"].value
        assert expected is not None  # a valid verification always carries the value
        return {"judgements": [await judge_number(s, expected) for s in state["solutions"]]}

    graph = StateGraph(ArithState)
    graph.add_node("propose", propose)
    graph.add_node("verify", verify)
    graph.add_node("solve", solve)
    graph.add_node("judge", judge)
    graph.add_edge(START, "propose")
    graph.add_edge("propose", "verify")
    graph.add_conditional_edges("verify", fan_out, ["solve", END])
    graph.add_edge("solve", "judge")
    graph.add_edge("judge", END)
    return graph.compile()
