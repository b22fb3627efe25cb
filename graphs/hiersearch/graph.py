"""The hiersearch graph: n planner attempts at one question, each delegating to two sub-agents.

    START --(x n_planners, concurrently, via Send)--> plan -> END

`plan` is one planner attempt (hierarchy.py): its tool loop calls the `local_agent` and
`web_agent` subgraphs (search -> refine), each over its own half of the world. Every call of
every role is recorded in the episode (the planner's, each sub-agent's, each policy-refiner
judgement), and the planner's tool calls name the calls that answered them, so the inspector
shows the nesting.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send
from pydantic import ValidationError

from sparring.errors import GameError
from sparring.graphs.hiersearch.config import HierSearchConfig
from sparring.graphs.hiersearch.hierarchy import AGENT_ROLES, Hierarchy, PlannerAttempt
from sparring.graphs.policies import Policies
from sparring.messages import Task
from sparring.tools.world import Hop

__all__ = ["HierSearchState", "build", "drawing", "start"]


class HierSearchState(TypedDict, total=False):
    """The episode's state as the nodes pass it along."""

    question: str
    golds: list[str]
    hops: int
    chain: list[dict[str, Any]]  # the question's hops (tools/world Hop), for the sub-agents' pay
    attempts: Annotated[list[PlannerAttempt], operator.add]  # one per planner, concurrently


def start(task: Task, cfg: HierSearchConfig) -> dict[str, Any]:
    """The input state for `task`; refuses params the game cannot play."""
    params = task.params
    question, golds, hops = params.get("question"), params.get("golds"), params.get("hops")
    if not isinstance(question, str) or not question.strip():
        raise GameError(f"hiersearch task needs params.question (text), got {question!r}")
    if not isinstance(golds, list) or not golds or not all(isinstance(g, str) for g in golds):
        raise GameError(f"hiersearch task needs params.golds (a list of answers), got {golds!r}")
    if not isinstance(hops, int) or hops not in cfg.hop_counts:
        raise GameError(
            f"hiersearch task needs params.hops in {cfg.min_hops}..{cfg.max_hops}, got {hops!r}"
        )
    chain = params.get("chain")
    try:
        hops_read = [Hop.model_validate(h) for h in chain] if isinstance(chain, list) else None
    except ValidationError as e:
        raise GameError(f"hiersearch task has a malformed params.chain: {e}") from None
    if hops_read is None or len(hops_read) != hops:
        raise GameError(f"hiersearch task needs params.chain with {hops} hop(s), got {chain!r}")
    return {
        "question": question.strip(),
        "golds": list(golds),
        "hops": hops,
        "chain": [h.model_dump(mode="json") for h in hops_read],
    }


def build(policies: Policies, cfg: HierSearchConfig) -> Any:
    """Compile the hiersearch graph over `policies` (the sources are built once per process)."""
    hierarchy = Hierarchy(policies, cfg)

    async def plan(payload: dict[str, Any]) -> dict[str, Any]:
        attempt = await hierarchy.attempt(payload["question"], payload["golds"], payload["hops"])
        return {"attempts": [attempt]}

    def planners(state: HierSearchState) -> list[Send]:
        payload = {"question": state["question"], "golds": state["golds"], "hops": state["hops"]}
        return [Send("plan", payload)] * cfg.n_planners

    graph = StateGraph(HierSearchState)
    graph.add_node("plan", plan)
    graph.add_conditional_edges(START, planners, ["plan"])
    graph.add_edge("plan", END)
    return graph.compile()


def drawing(policies: Policies, cfg: HierSearchConfig) -> Any:
    """The graph `sparring graph hiersearch` draws: the planner with both sub-agent subgraphs as
    nodes it delegates to and hears back from. Never played: in play the planner's tool loop
    calls the subgraphs itself (hierarchy.py), which LangGraph's edges cannot show."""
    hierarchy = Hierarchy(policies, cfg)
    agents = list(AGENT_ROLES.values())

    def never(state: HierSearchState) -> dict[str, Any]:
        raise GameError("the hiersearch drawing graph is for drawing only; play build()'s")

    def delegate(state: HierSearchState) -> str:
        raise GameError("the hiersearch drawing graph is for drawing only; play build()'s")

    graph = StateGraph(HierSearchState)
    graph.add_node("plan", never)
    for half, role in AGENT_ROLES.items():
        graph.add_node(role, hierarchy.agent_graph(half))
        graph.add_edge(role, "plan")
    graph.add_edge(START, "plan")
    graph.add_conditional_edges("plan", delegate, [*agents, END])
    return graph.compile()
