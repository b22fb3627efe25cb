"""The search graph: propose (tool loop) -> filters -> RAG verify -> n solvers (tool loop).

    START -> propose --filters fail--> END
                     \\--pass--> verify --invalid--> END
                                       \\--valid--> solve (x n, concurrently, via Send) -> END
    START (an oracle question in the task: questions='oracle') -> solve (x n) -> END

The proposer is told a gold answer and the number of searches n to make ("answer: Misadel" /
"searches: 2"), searches the corpus with `<search>query</search>` and writes its question inside
`<answer>...</answer>` (the tool loop's terminal tag; filters.py says why). The filters run in
code; a proposal that passes them goes to the RAG verifier (verifier.py), with every document
the proposer's searches returned plus noise; a verified question goes to n solvers, each its
own tool loop over the same corpus ("question: ..."), scored by SQuAD exact match (F1 beside it).

Every search of every role is a `ToolCall` on its turn (query in, `[title] text` lines out), so
the inspector shows what each role searched and read; the verdicts (rewards.py) add the ids of
the documents each role retrieved and which of them the verifier saw as noise.
"""

from __future__ import annotations

import operator
import random
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send
from pydantic import BaseModel, ConfigDict, Field

from sparring.errors import GameError
from sparring.graphs.policies import Policies
from sparring.graphs.search.config import SearchGameConfig
from sparring.graphs.search.filters import Check, check_proposal, passed
from sparring.graphs.search.library import Library, library_for
from sparring.graphs.search.prompts import proposer_messages, solver_messages
from sparring.graphs.search.verifier import RagVerdict, verify_question
from sparring.messages import Role, Task
from sparring.policy.base import Policy, SamplingParams
from sparring.roles.tool_loop import run_tool_loop
from sparring.tools.answer import exact_match, f1
from sparring.tools.search import Hit, SearchTool

__all__ = [
    "Attempt",
    "Proposal",
    "SearchState",
    "attempt_question",
    "build",
    "propose_question",
    "start",
    "verify_proposal",
]


class Proposal(BaseModel):
    """What the proposer did: its searches, its question, and the filters' checks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call_id: str = Field(description="The proposer's recorded call.")
    outcome: str = Field(description="How its tool loop ended.")
    question: str | None = Field(description="The text of its <answer>, if any.")
    queries: list[str] = Field(description="Its search queries, in order.")
    document_ids: list[str] = Field(description="Every distinct document its searches returned.")
    checks: list[Check] = Field(description="The validity filters' verdicts.")

    @property
    def valid_format(self) -> bool:
        """Whether every filter passed."""
        return passed(self.checks)


class Attempt(BaseModel):
    """One solver's attempt at a verified question."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call_id: str = Field(description="The solver's recorded call.")
    outcome: str = Field(description="How its tool loop ended.")
    answer: str | None = Field(description="Its answer, if it gave one.")
    queries: list[str] = Field(description="Its search queries, in order.")
    document_ids: list[str] = Field(description="Every distinct document its searches returned.")
    em: float = Field(description="SQuAD exact match against the gold answer.")
    f1: float = Field(description="SQuAD token F1 against the gold answer.")


class SearchState(TypedDict, total=False):
    """The episode's state as the nodes pass it along."""

    answer: str
    hops: int
    question: str  # only with questions='oracle': the fact table's question, no proposer
    golds: list[str]  # with it: every accepted answer
    proposal: Proposal
    verification: RagVerdict
    attempts: Annotated[list[Attempt], operator.add]  # one per solver, appended concurrently


def start(task: Task, cfg: SearchGameConfig) -> dict[str, Any]:
    """The input state for `task`; refuses params outside the game's range."""
    answer, hops = task.params.get("answer"), task.params.get("hops")
    if not isinstance(answer, str) or not answer.strip():
        raise GameError(f"search task needs params.answer (a non-empty string), got {answer!r}")
    if not isinstance(hops, int) or hops not in cfg.hop_counts:
        raise GameError(
            f"search task needs params.hops in {cfg.min_hops}..{cfg.max_hops}, got {hops!r}"
        )
    state: dict[str, Any] = {"answer": answer.strip(), "hops": hops}
    if cfg.questions == "oracle":
        question, golds = task.params.get("question"), task.params.get("golds")
        if not isinstance(question, str) or not question.strip():
            raise GameError(
                f"search task with questions='oracle' needs params.question, got {question!r}"
            )
        if not golds or not isinstance(golds, list) or not all(isinstance(g, str) for g in golds):
            golds = [answer.strip()]  # the answer alone, when no list of accepted ones came
        state |= {"question": question.strip(), "golds": golds}
    return state


def build(policies: Policies, cfg: SearchGameConfig, library: Library | None = None) -> Any:
    """Compile the search graph over `policies`; the library (corpus, index) is built here, once
    per process, unless given."""
    lib = library or library_for(cfg)
    proposer, solver = policies.for_role(Role.PROPOSER), policies.for_role(Role.SOLVER)
    verifier = policies.for_role(Role.VERIFIER)

    async def propose(state: SearchState) -> dict[str, Any]:
        return {
            "proposal": await propose_question(proposer, state["answer"], state["hops"], lib, cfg)
        }

    async def verify(state: SearchState) -> dict[str, Any]:
        proposal = state["proposal"]
        verdict = await verify_proposal(
            verifier, proposal, state["answer"], state["hops"], lib, cfg
        )
        return {"verification": verdict}

    async def solve(payload: dict[str, Any]) -> dict[str, Any]:
        attempt = await attempt_question(
            solver, payload["question"], payload["golds"], payload["hops"], lib, cfg
        )
        return {"attempts": [attempt]}

    def solvers(question: str, golds: list[str], hops: int) -> list[Send]:
        payload = {"question": question, "golds": golds, "hops": hops}
        return [Send("solve", payload)] * cfg.n_solvers

    def begin(state: SearchState) -> list[Send] | str:
        if "question" in state:
            return solvers(state["question"], state["golds"], state["hops"])
        return "propose"

    def after_propose(state: SearchState) -> str:
        return "verify" if state["proposal"].valid_format else END

    def fan_out(state: SearchState) -> list[Send] | str:
        if not state["verification"].valid:
            return END
        question = state["proposal"].question
        assert question is not None  # the format filter passed
        return solvers(question, [state["answer"]], state["hops"])

    graph = StateGraph(SearchState)
    graph.add_node("propose", propose)
    graph.add_node("verify", verify)
    graph.add_node("solve", solve)
    graph.add_conditional_edges(START, begin, ["propose", "solve"])
    graph.add_conditional_edges("propose", after_propose, ["verify", END])
    graph.add_conditional_edges("verify", fan_out, ["solve", END])
    graph.add_edge("solve", END)
    return graph.compile()


async def propose_question(
    policy: Policy, answer: str, hops: int, lib: Library, cfg: SearchGameConfig
) -> Proposal:
    """One proposer tool loop from the gold `answer` over the library, and the filters' checks
    of the question it wrote (the hiersearch game's proposer plays this too)."""
    tool = SearchTool(lib.searcher, k=cfg.proposer_k, max_chars=cfg.snippet_chars)
    result = await run_tool_loop(
        policy,
        Role.PROPOSER,
        proposer_messages(answer, hops),
        {"search": tool},
        cfg.proposer,
        max_turns=cfg.max_turns(hops),
        budget=cfg.budget,
    )
    queries = [q for q, _ in tool.calls]
    return Proposal(
        call_id=result.call.id,
        outcome=result.outcome,
        question=result.answer,
        queries=queries,
        document_ids=[d.id for d in tool.documents],
        checks=check_proposal(result.outcome, result.answer, queries, answer, hops, cfg),
    )


async def verify_proposal(
    policy: Policy, proposal: Proposal, answer: str, hops: int, lib: Library, cfg: SearchGameConfig
) -> RagVerdict:
    """The RAG check of a proposal that passed the filters: every document the proposer's
    searches returned, plus noise drawn from the rest of the library (seeded by the episode)."""
    assert proposal.question is not None  # the format filter passed
    rng = random.Random(f"noise/{answer}/{proposal.question}")
    noise = [
        Hit(p.id, p.title, p.text, 0.0)
        for p in lib.noise(proposal.document_ids, cfg.noise_docs, rng)
    ]
    documents = _documents(lib, proposal.document_ids)
    return await verify_question(
        policy, proposal.question, documents, noise, [answer], hops, cfg, rng
    )


async def attempt_question(
    policy: Policy,
    question: str,
    golds: list[str],
    hops: int,
    lib: Library,
    cfg: SearchGameConfig,
    params: SamplingParams | None = None,
) -> Attempt:
    """One solver tool loop at `question` over the library, scored against `golds`."""
    tool = SearchTool(lib.searcher, k=cfg.solver_k, max_chars=cfg.snippet_chars)
    result = await run_tool_loop(
        policy,
        Role.SOLVER,
        solver_messages(question),
        {"search": tool},
        params or cfg.solver,
        max_turns=cfg.max_turns(hops),
        budget=cfg.budget,
    )
    said = result.answer
    return Attempt(
        call_id=result.call.id,
        outcome=result.outcome,
        answer=said,
        queries=[q for q, _ in tool.calls],
        document_ids=[d.id for d in tool.documents],
        em=exact_match(said, golds) if said is not None else 0.0,
        f1=f1(said, golds) if said is not None else 0.0,
    )


def _documents(lib: Library, ids: list[str]) -> list[Hit]:
    """The passages with these ids, as hits (their full text; the prompt cuts snippets)."""
    by_id = lib.by_id
    return [Hit(by_id[i].id, by_id[i].title, by_id[i].text, 0.0) for i in ids]
