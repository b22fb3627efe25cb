"""Reverse: the smallest proposer/solver game; `sparring run examples/reverse/game.py` plays it.

The proposer is asked for a string of n digits; a rule checks it; four solvers reverse it. A
solver earns 1 for the exact reverse; the proposer earns 1 - solve rate for a valid string, -1
for an invalid one (so it learns to write strings that are valid and hard).
"""

import re
from typing import TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from sparring.graphs import Game, Payout, Policies, RoleSpec


class State(TypedDict):
    n: int
    digits: str | None


def build(policies: Policies, cfg: object):
    proposer, solver = policies.for_role("proposer"), policies.for_role("solver")

    async def propose(state: State) -> dict:
        text = (await proposer.generate(f"write {state['n']} digits")).text.strip()
        return {"digits": text if re.fullmatch(rf"[0-9]{{{state['n']}}}", text) else None}

    async def solve(state: State) -> dict:
        await solver.generate(f"reverse {state['digits']}")
        return {}

    def fan_out(state: State) -> list[Send] | str:
        return [Send("solve", state)] * 4 if state["digits"] else END

    graph = StateGraph(State)
    graph.add_node("propose", propose)
    graph.add_node("solve", solve)
    graph.add_edge(START, "propose")
    graph.add_conditional_edges("propose", fan_out, ["solve", END])
    return graph.compile()


def score(state: State, calls: list, cfg: object) -> list[Payout]:
    proposal, *solvers = calls  # in the order they started
    if state["digits"] is None:
        return [Payout(call_id=proposal.id, reward=-1.0, reason="not n digits")]
    solved = [c.text.strip() == state["digits"][::-1] for c in solvers]
    rate = sum(solved) / len(solved)
    pay = [Payout(call_id=c.id, reward=float(ok), reason=f"reversed: {ok}") for c, ok in
           zip(solvers, solved, strict=True)]  # fmt: skip
    return [*pay, Payout(call_id=proposal.id, reward=1 - rate, reason=f"solve rate {rate:.2f}")]


game = Game(
    name="reverse",
    build=build,
    score=score,
    tasks=lambda rng, cfg: {"n": rng.randint(2, 6)},
    roles={"proposer": RoleSpec(estimator="rae", grouping="call"), "solver": RoleSpec()},
)
