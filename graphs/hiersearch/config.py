"""HierSearchConfig: every knob of the hierarchical search game, sized for two CPU cores.

The tiny model (policy/tiny.py) reads a result line of ~80 tokens (a whole world article), so
each sub-agent returns two results a search and the refiner keeps half by default: a two-source
planner trajectory is then ~250 tokens with the refiner and ~400 without.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from sparring.graphs.curriculum import CurriculumSettings, check_level_shares
from sparring.policy.base import SamplingParams
from sparring.tools.search import SearchMode
from sparring.tools.world import Kind

__all__ = ["HierSearchConfig", "RefinerMode"]

RefinerMode = Literal["off", "embedding", "policy"]
"""How the evidence a sub-agent returns is filtered before the planner reads it."""


class HierSearchConfig(CurriculumSettings):
    """The hiersearch game's section of the run config (`game_params`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    world_articles: int = Field(
        default=300, ge=20, description="Articles of the generated world (tools/world)."
    )
    world_seed: int = Field(default=0, description="Seed the world is generated from.")
    local_kinds: tuple[Kind, ...] = Field(
        default=(Kind.ORGANISATION, Kind.PERSON),
        description="Entity kinds whose articles form the local source (the rest are the web): "
        "the people and organisations in one, places and events in the other, so which agent "
        "holds a fact follows from what is asked (a random split no model could learn).",
    )
    search_mode: SearchMode = Field(
        default="bm25",
        description="Ranking inside each source (the search game measured BM25 best for the "
        "world's made-up names, graphs/search/library.py).",
    )
    agent_k: int = Field(
        default=2,
        ge=1,
        le=10,
        description="Results per sub-agent search: the article searched for and one more, the "
        "evidence the refiner has to judge.",
    )
    snippet_chars: int = Field(
        default=140, ge=20, description="Characters of each result's text shown (whole articles)."
    )
    min_hops: int = Field(default=1, ge=1, le=2, description="Fewest hops a question has.")
    max_hops: int = Field(
        default=2,
        ge=1,
        le=2,
        description="Most hops a question has. Every 2-hop question needs both sources (one fact "
        "local, one web); 1-hop questions need one.",
    )
    n_planners: int = Field(
        default=4, ge=1, description="Planner attempts per question, one GRPO group."
    )
    refiner: RefinerMode = Field(
        default="embedding",
        description="'off' (the planner reads every returned document), 'embedding' (MiniLM "
        "relevance to the sub-question, the top `refiner_keep` kept: what HierSearch ships, no "
        "training) or 'policy' (the shared policy judges each document, trained on whether "
        "the planner then answers right with fewer tokens). Not read by the warm-up, which "
        "teaches every mode.",
        json_schema_extra={"warmup": False},
    )
    refiner_keep: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of documents the embedding refiner keeps (at least one).",
    )
    refiner_cost: float = Field(
        default=0.2,
        ge=0,
        description="What the policy refiner pays for each document it keeps, against the "
        "planner's exact match (1): keep what the answer needs, drop the rest.",
    )
    refiner_format_penalty: float = Field(
        default=-0.5,
        description="Policy refiner reward for a judgement that is neither yes nor no (the "
        "document is then kept: nothing is dropped on an unreadable word).",
    )
    agent_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="A sub-agent whose sub-question names no entity of the question's chain "
        "cannot be checked on its own: it is paid this share of the planner's exact match.",
    )
    agent_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a sub-agent (its searches and the refiner) may take; past it the "
        "planner reads an error and goes on.",
    )
    planner: SamplingParams = Field(
        default=SamplingParams(max_new_tokens=40, top_p=0.9),
        description="Planner sampling, per turn (a sub-question is ~30 tiny-model tokens).",
    )
    agent: SamplingParams = Field(
        default=SamplingParams(max_new_tokens=24, top_p=0.9),
        description="Sub-agent sampling, per turn of its tool loop.",
    )
    refiner_params: SamplingParams = Field(
        default=SamplingParams(max_new_tokens=3, top_p=0.9),
        description="Policy refiner sampling (one word: yes or no).",
    )
    planner_budget: int = Field(
        default=640,
        ge=16,
        description="Most completion tokens of a planner's trajectory, sub-agent reports included.",
    )
    agent_budget: int = Field(
        default=384, ge=16, description="Most completion tokens of a sub-agent's tool loop."
    )
    eval_questions: int = Field(default=40, ge=1, description="Held-out questions per hop count.")
    eval_seed: int = Field(default=20_250_811, description="Seed of the fixed held-out set.")
    warmup_mix: dict[int, float] = Field(
        default={1: 0.7, 2: 0.3},
        description="Share of each hop count among planner demonstrations: 1-hop (ask one agent "
        "the question, pass on its answer) and two-source questions (ask one agent, then the "
        "other about what it said), which RL is then to lift. With 5% two-source demonstrations "
        "the planner still answered every 2-hop question with the first agent's answer after "
        "2000 steps (held-out .38 / .00, docs/learning.md).",
    )
    warmup_ready: dict[int, float] = Field(
        default={1: 0.6, 2: 0.25},
        description="Greedy planner EM each hop count must reach on probe questions before the "
        "warm-up stops: single-source known, two-source begun.",
    )
    warmup_probe: int = Field(default=20, ge=1, description="Probe questions per hop count.")
    warmup_shares: dict[Literal["planner", "agent", "refiner"], float] = Field(
        default={"planner": 0.45, "agent": 0.4, "refiner": 0.15},
        description="Share of warm-up demonstrations teaching each role (sub-agents: search "
        "the name, answer from its article; refiner: yes for the article asked about).",
    )

    @field_validator("local_kinds")
    @classmethod
    def _kinds(cls, kinds: tuple[Kind, ...]) -> tuple[Kind, ...]:
        # Sorted and unique, so the config's JSON (the warm-up cache key) does not depend on
        # the order a user listed the kinds in.
        unique = tuple(sorted(set(kinds)))
        if not unique or len(unique) == len(Kind):
            raise ValueError(f"name some entity kinds but not all, not {list(unique)}")
        return unique

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.min_hops > self.max_hops:
            raise ValueError(f"min_hops {self.min_hops} > max_hops {self.max_hops}")
        check_level_shares(self.warmup_mix)
        if sum(self.warmup_shares.values()) <= 0:
            raise ValueError("warmup_shares must give some role a positive share")
        return self

    @property
    def hop_counts(self) -> list[int]:
        """The hop counts questions are drawn from."""
        return list(range(self.min_hops, self.max_hops + 1))

    def planner_turns(self, hops: int) -> int:
        """Planner turns for a question of `hops`: one delegation a hop, one to spare, one to
        answer."""
        return hops + 2
