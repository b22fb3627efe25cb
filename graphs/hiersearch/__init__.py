"""Hierarchical search (HierSearch, arXiv 2508.08088): a planner, two search agents, a refiner.

One shared policy plays four roles. The planner reads a question and delegates sub-questions
to two sub-agents with `<local>...</local>` and `<web>...</web>`; each sub-agent is a LangGraph
subgraph that searches its own half of a generated world (sources.py) with the tool loop and
answers; a refiner (refiner.py: off, MiniLM relevance, or the policy) filters the documents
the sub-agent found before the planner reads them; the planner answers in `<answer>`. Questions
come from the world's fact table (heldout.py): 1-hop ones need one source, 2-hop ones one fact
of each, the frontier. The reward rules are in rewards.py, the nesting in hierarchy.py.

Where this follows HierSearch and where the tiny model forces a change:
- as HierSearch: a planner over a local and a web search agent, a knowledge refiner between
  them that drops irrelevant evidence (HierSearch's is an embedding filter, one mode here),
  answers scored by exact match, every agent trained by RL;
- changed: the two sources are halves of one generated world split by entity kind (people and
  organisations local, places and events web, so whom to ask is learnable; HierSearch's local
  source is a private corpus and its web source a live search engine); the agents train
  together on one policy rather than bottom-up, each paid for its own checkable answer
  (rewards.py); the planner and the agents are warmed up on oracle demonstrations from the
  fact table first (HierSearch starts from a 7B instruction-tuned model); questions are the
  fact table's by default, or with questions='proposer' written by the search game's proposer
  and checked by its RAG verifier (self-play on top of the hierarchy).

    from sparring.graphs.hiersearch import game, HierSearchConfig
"""

from sparring.credit import RoleSpec
from sparring.graphs.game import Game
from sparring.graphs.hiersearch.config import HierSearchConfig, RefinerMode
from sparring.graphs.hiersearch.graph import HierSearchState, build, drawing, start
from sparring.graphs.hiersearch.heldout import (
    compare_refiners,
    demonstration,
    evaluate,
    ready,
    sub_question,
    tasks,
)
from sparring.graphs.hiersearch.hierarchy import (
    AGENT_ROLES,
    AgentReport,
    Hierarchy,
    PlannerAttempt,
)
from sparring.graphs.hiersearch.refiner import Refinement, refine
from sparring.graphs.hiersearch.rewards import checkable_hop, score
from sparring.graphs.hiersearch.source import HierSearchTaskSource
from sparring.graphs.hiersearch.sources import Sources, build_sources, sources_for
from sparring.messages import Role

__all__ = [
    "AGENT_ROLES",
    "AgentReport",
    "HierSearchConfig",
    "HierSearchState",
    "HierSearchTaskSource",
    "Hierarchy",
    "PlannerAttempt",
    "Refinement",
    "RefinerMode",
    "Sources",
    "build",
    "build_sources",
    "checkable_hop",
    "compare_refiners",
    "demonstration",
    "drawing",
    "evaluate",
    "game",
    "ready",
    "refine",
    "score",
    "sources_for",
    "start",
    "sub_question",
    "tasks",
]

game = Game(
    name="hiersearch",
    description="Hierarchical search: a planner delegates to a local and a web search agent, a "
    "refiner filters their evidence, the planner answers",
    config_model=HierSearchConfig,
    build=build,
    drawing=drawing,
    start=start,
    score=score,
    task_source=HierSearchTaskSource,
    evaluate=evaluate,
    demonstrations=demonstration,
    ready=ready,
    warmup_batch=32,
    # An episode is n planner loops each with two sub-agent loops, slower still than search's
    # (whose 8-group steps are why this is 8, graphs/search).
    # A readiness check plays the whole hierarchy on 40 probe questions: every 100 steps, not
    # every 25, keeps it a small share of the warm-up.
    run_defaults={
        "trainer": {"batch_groups": 8, "min_samples": 64},
        "policy": {"warmup_check_every": 100},
    },
    roles={
        Role.PLANNER: RoleSpec(
            estimator="grpo", description="delegates sub-questions and answers; n form a group"
        ),
        AGENT_ROLES["local"]: RoleSpec(
            estimator="rae",
            grouping="call",
            description="searches the local source (people, organisations) and answers",
        ),
        AGENT_ROLES["web"]: RoleSpec(
            estimator="rae",
            grouping="call",
            description="searches the web source (places, events) and answers",
        ),
        Role.REFINER: RoleSpec(
            estimator="rae",
            grouping="call",
            description="keeps or drops each document before the planner reads it (policy mode)",
        ),
        Role.PROPOSER: RoleSpec(
            estimator="rae",
            grouping="call",
            description="with questions='proposer': searches the whole world from an answer and "
            "writes a question the RAG verifier answers",
        ),
    },
)
"""The hiersearch Game, as `load_game("hiersearch")` returns it."""
