"""The hiersearch graph: n planner attempts at one question, each delegating to two sub-agents.

    START --(x n_planners, concurrently, via Send)--> plan -> END            questions='oracle'
    START -> propose --filters fail--> END                                 questions='proposer'
                     \\--pass--> verify --invalid--> END
                                       \\--valid--> plan (x n_planners) -> END

`plan` is one planner attempt (hierarchy.py): its tool loop calls the `local_agent` and
`web_agent` subgraphs (search -> refine), each over its own half of the world. Every call of
every role is recorded in the episode (the planner's, each sub-agent's, each policy-refiner
judgement), and the planner's tool calls name the calls that answered them, so the inspector
shows the nesting. With questions='proposer' the search game's proposer and RAG verifier
(graphs/search/graph.py) write and check the question first, over the whole world.
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
from sparring.graphs.search.graph import Proposal, propose_question, verify_proposal
from sparring.graphs.search.library import library_for
from sparring.graphs.search.verifier import RagVerdict
from sparring.messages import Role, Task
from sparring.tools.world import Hop

__all__ = ["HierSearchState", "build", "drawing", "start"]


class HierSearchState(TypedDict, total=False):
    """The episode's state as the nodes pass it along."""

    question: str
    golds: list[str]
    hops: int
    chain: list[dict[str, Any]]  # the question's hops (tools/world Hop), for the sub-agents' pay
    answer: str  # questions='proposer': the gold the proposer writes a question for
    proposal: Proposal
    verification: RagVerdict
    attempts: Annotated[list[PlannerAttempt], operator.add]  # one per planner, concurrently


def start(task: Task, cfg: HierSearchConfig) -> dict[str, Any]:
    """The input state for `task`; refuses params the game cannot play."""
    params = task.params
    hops = params.get("hops")
    if not isinstance(hops, int) or hops not in cfg.hop_counts:
        raise GameError(
            f"hiersearch task needs params.hops in {cfg.min_hops}..{cfg.max_hops}, got {hops!r}"
        )
    if cfg.questions == "proposer":
        answer = params.get("answer")
        if not isinstance(answer, str) or not answer.strip():
            raise GameError(
                "hiersearch task with questions='proposer' needs params.answer (text), got "
                f"{answer!r}"
            )
        return {"answer": answer.strip(), "hops": hops}
    question, golds = params.get("question"), params.get("golds")
    if not isinstance(question, str) or not question.strip():
        raise GameError(f"hiersearch task needs params.question (text), got {question!r}")
    if not isinstance(golds, list) or not golds or not all(isinstance(g, str) for g in golds):
        raise GameError(f"hiersearch task needs params.golds (a list of answers), got {golds!r}")
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
    graph = StateGraph(HierSearchState)

    async def plan(payload: dict[str, Any]) -> dict[str, Any]:
        attempt = await hierarchy.attempt(payload["question"], payload["golds"], payload["hops"])
        return {"attempts": [attempt]}

    def planners(question: str, golds: list[str], hops: int) -> list[Send]:
        payload = {"question": question, "golds": golds, "hops": hops}
        return [Send("plan", payload)] * cfg.n_planners

    graph.add_node("plan", plan)
    graph.add_edge("plan", END)
    if cfg.questions == "oracle":

        def oracle(state: HierSearchState) -> list[Send]:
            return planners(state["question"], state["golds"], state["hops"])

        graph.add_conditional_edges(START, oracle, ["plan"])
        return graph.compile()

    scfg = cfg.search_config()
    lib = library_for(scfg)
    proposer, verifier = policies.for_role(Role.PROPOSER), policies.for_role(Role.VERIFIER)

    async def propose(state: HierSearchState) -> dict[str, Any]:
        return {
            "proposal": await propose_question(proposer, state["answer"], state["hops"], lib, scfg)
        }

    async def verify(state: HierSearchState) -> dict[str, Any]:
        verdict = await verify_proposal(
            verifier, state["proposal"], state["answer"], state["hops"], lib, scfg
        )
        return {"verification": verdict}

    def after_propose(state: HierSearchState) -> str:
        return "verify" if state["proposal"].valid_format else END

    def fan_out(state: HierSearchState) -> list[Send] | str:
        question = state["proposal"].question
        if not state["verification"].valid or question is None:
            return END
        return planners(question, [state["answer"]], state["hops"])

    graph.add_node("propose", propose)
    graph.add_node("verify", verify)
    graph.add_edge(START, "propose")
    graph.add_conditional_edges("propose", after_propose, ["verify", END])
    graph.add_conditional_edges("verify", fan_out, ["plan", END])
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
