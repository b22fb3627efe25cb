"""The hierarchy one planner attempt runs: the planner's tool loop, whose tools are two sub-agents.

    planner ──<local>sub-question</local>──> local agent subgraph: search (tool loop) -> refine
            <── <result>answer: X + the documents the refiner kept</result>
            ──<web>sub-question</web>──────> web agent subgraph: search -> refine
            <── ...
            ──<answer>...</answer>

A sub-agent is a compiled LangGraph subgraph of two nodes (`local_search` -> `local_refine`):
the search node runs the tool loop over its own source only (sources.py), the refine node
filters the documents its searches returned (refiner.py). The planner's node calls a subgraph
from inside its tool loop, so each sub-agent call is recorded as its own Call (role
`local_agent` or `web_agent`, its own Sample), the refiner's judgements too, and the planner's
`ToolCall.data["calls"]` lists the ids of the calls that answered it: the inspector nests them
under that turn. A sub-agent that fails or runs past `agent_timeout_s` is an error text the
planner reads (the tool loop's rule), never a crashed episode.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from sparring.graphs.hiersearch.config import HierSearchConfig, RefinerMode
from sparring.graphs.hiersearch.prompts import agent_messages, planner_messages
from sparring.graphs.hiersearch.refiner import Refinement, refine
from sparring.graphs.hiersearch.sources import Sources, sources_for
from sparring.graphs.policies import Policies
from sparring.messages import Role
from sparring.policy.base import SamplingParams
from sparring.roles.tool_loop import RESULT_CLOSE, RESULT_OPEN, Tool, run_tool_loop
from sparring.tools.answer import exact_match, f1
from sparring.tools.errors import ToolError
from sparring.tools.output import ToolOutput
from sparring.tools.search import Hit, SearchTool, format_hits
from sparring.tools.world import Half

__all__ = [
    "AGENT_ROLES",
    "AgentReport",
    "Hierarchy",
    "PlannerAttempt",
    "agent_result",
    "demonstration_result",
]

AGENT_ROLES: dict[Half, str] = {"local": "local_agent", "web": "web_agent"}
"""The role name of each source's sub-agent."""

AGENT_TURNS = 3
"""A sub-agent's turns: search, search again after a miss, answer."""


class AgentReport(BaseModel):
    """What one delegation did: the sub-question, the sub-agent's answer, what was kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    half: Half = Field(description="The source asked.")
    question: str = Field(description="The planner's sub-question.")
    call_id: str | None = Field(description="The sub-agent's call; None if it never finished.")
    outcome: str = Field(description="How its tool loop ended, or 'error'.")
    answer: str | None = Field(description="Its answer, if any.")
    queries: list[str] = Field(default=[], description="Its searches.")
    document_ids: list[str] = Field(default=[], description="Every document its searches found.")
    refinement: Refinement | None = Field(default=None, description="What the refiner did.")
    error: str | None = Field(default=None, description="Why it failed, if it did.")


class PlannerAttempt(BaseModel):
    """One planner attempt at a question, with every delegation it made."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call_id: str = Field(description="The planner's recorded call.")
    outcome: str = Field(description="How its tool loop ended.")
    answer: str | None = Field(description="Its final answer, if any.")
    em: float = Field(description="SQuAD exact match against the gold answers.")
    f1: float = Field(description="SQuAD token F1 against the gold answers.")
    read_tokens: int = Field(description="Tokens the planner read: its prompt and every report.")
    reports: list[AgentReport] = Field(description="Its delegations, in order.")


class _AgentState(TypedDict, total=False):
    question: str
    mode: RefinerMode
    call_id: str
    outcome: str
    answer: str | None
    queries: list[str]
    documents: list[Hit]
    kept: list[Hit]
    refinement: Refinement


def agent_result(answer: str | None, kept: list[Hit], snippet_chars: int) -> str:
    """What the planner reads of one delegation: the agent's answer and the kept documents."""
    said = answer if answer else "none"
    lines = format_hits(kept, snippet_chars) if kept else "no documents"
    return f"answer: {said}\n{lines}"


class Hierarchy:
    """The planner and its two sub-agent subgraphs over `policies`, compiled once."""

    def __init__(
        self, policies: Policies, cfg: HierSearchConfig, sources: Sources | None = None
    ) -> None:
        self.cfg = cfg
        self.sources = sources or sources_for(cfg)
        self._planner = policies.for_role(Role.PLANNER)
        self._refiner = policies.for_role(Role.REFINER)
        self._agents = {half: self._agent_graph(policies, half) for half in AGENT_ROLES}

    def _agent_graph(self, policies: Policies, half: Half) -> Any:
        cfg, library = self.cfg, self.sources.half(half)
        policy = policies.for_role(AGENT_ROLES[half])

        async def search(state: _AgentState) -> dict[str, Any]:
            tool = SearchTool(library.searcher, k=cfg.agent_k, max_chars=cfg.snippet_chars)
            result = await run_tool_loop(
                policy,
                AGENT_ROLES[half],
                agent_messages(half, state["question"]),
                {"search": tool},
                cfg.agent,
                max_turns=AGENT_TURNS,
                budget=cfg.agent_budget,
            )
            return {
                "call_id": result.call.id,
                "outcome": result.outcome,
                "answer": result.answer,
                "queries": [q for q, _ in tool.calls],
                "documents": tool.documents,
            }

        async def refine_node(state: _AgentState) -> dict[str, Any]:
            kept, refinement = await refine(
                state["mode"],
                state["question"],
                state["documents"],
                cfg,
                embedder=self.sources.embedder,
                policy=self._refiner,
            )
            return {"kept": kept, "refinement": refinement}

        graph = StateGraph(_AgentState)
        graph.add_node(f"{half}_search", search)
        graph.add_node(f"{half}_refine", refine_node)
        graph.add_edge(START, f"{half}_search")
        graph.add_edge(f"{half}_search", f"{half}_refine")
        graph.add_edge(f"{half}_refine", END)
        return graph.compile(name=AGENT_ROLES[half])

    def agent_graph(self, half: Half) -> Any:
        """The compiled subgraph of one source's sub-agent (for drawing and for tests)."""
        return self._agents[half]

    async def _delegate(
        self, half: Half, mode: RefinerMode, reports: list[AgentReport], question: str
    ) -> ToolOutput:
        question = question.strip()
        try:
            out = await asyncio.wait_for(
                self._agents[half].ainvoke({"question": question, "mode": mode}),
                self.cfg.agent_timeout_s,
            )
        except TimeoutError:
            error = f"the {half} agent did not answer within {self.cfg.agent_timeout_s:g} s"
            reports.append(_failed(half, question, error))
            raise ToolError(error) from None
        except Exception as exc:  # a sub-agent's failure is the planner's to read
            error = f"the {half} agent failed: {type(exc).__name__}: {exc}"
            reports.append(_failed(half, question, error))
            raise ToolError(error) from None
        refinement: Refinement = out["refinement"]
        reports.append(
            AgentReport(
                half=half,
                question=question,
                call_id=out["call_id"],
                outcome=out["outcome"],
                answer=out["answer"],
                queries=out["queries"],
                document_ids=[d.id for d in out["documents"]],
                refinement=refinement,
            )
        )
        calls: list[JsonValue] = [out["call_id"], *(j.call_id for j in refinement.judgements)]
        data: dict[str, JsonValue] = {
            "agent": AGENT_ROLES[half],
            "calls": calls,
            "answer": out["answer"],
            "refiner": mode,
            "kept": list(refinement.kept),
            "dropped": list(refinement.dropped),
        }
        return ToolOutput(agent_result(out["answer"], out["kept"], self.cfg.snippet_chars), data)

    async def attempt(
        self,
        question: str,
        golds: list[str],
        hops: int,
        params: SamplingParams | None = None,
        mode: RefinerMode | None = None,
    ) -> PlannerAttempt:
        """One planner tool loop at `question`, delegating to the sub-agents, scored against
        `golds`; `mode` overrides the configured refiner (the evaluation compares them)."""
        reports: list[AgentReport] = []
        mode = mode or self.cfg.refiner
        tools: dict[str, Tool] = {
            half: partial(self._delegate, half, mode, reports) for half in AGENT_ROLES
        }
        result = await run_tool_loop(
            self._planner,
            Role.PLANNER,
            planner_messages(question),
            tools,
            params or self.cfg.planner,
            max_turns=self.cfg.planner_turns(hops),
            budget=self.cfg.planner_budget,
        )
        call, said = result.call, result.answer
        read = len(call.generation.prompt_ids) + call.mask().count(0)
        return PlannerAttempt(
            call_id=call.id,
            outcome=result.outcome,
            answer=said,
            em=exact_match(said, golds) if said is not None else 0.0,
            f1=f1(said, golds) if said is not None else 0.0,
            read_tokens=read,
            reports=reports,
        )


def _failed(half: Half, question: str, error: str) -> AgentReport:
    return AgentReport(
        half=half, question=question, call_id=None, outcome="error", answer=None, error=error
    )


def demonstration_result(answer: str, kept: list[Hit], snippet_chars: int) -> str:
    """A delegation's result block as the tool loop splices it (oracle demonstrations)."""
    return f"{RESULT_OPEN}{agent_result(answer, kept, snippet_chars)}{RESULT_CLOSE}"
