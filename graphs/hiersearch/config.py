"""HierSearchConfig: every knob of the hierarchical search game, sized for two CPU cores.

The tiny model (policy/tiny.py) reads a result line of ~80 tokens (a whole world article), so
each sub-agent returns two results a search and the refiner keeps half by default: a two-source
planner trajectory is then ~250 tokens with the refiner and ~400 without.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from sparring.graphs.curriculum import CurriculumSettings, check_level_shares
from sparring.graphs.search.config import ProposerReward, SearchGameConfig
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
    questions: Literal["oracle", "proposer"] = Field(
        default="oracle",
        description="Who writes the planners' questions: 'oracle' (the fact table's, 2-hop ones "
        "built to need both sources) or 'proposer' (self-play: the search game's proposer, told "
        "an answer, searches the whole world, both halves, and writes a question; the search "
        "game's filters and RAG verifier pass it only if it is answerable from the documents "
        "the proposer found). Read by the warm-up: with 'proposer' it also teaches the proposer "
        "and the verifier (`warmup_proposer_share`).",
    )
    proposer_reward: ProposerReward = Field(
        default="inverse_solve_rate",
        description="With questions='proposer': the proposer's pay for a verified question "
        "the planners answer at rate p (the search game's rules: 'inverse_solve_rate' 1 - p, "
        "'absolute_zero', 'learnability' 4p(1 - p)).",
    )
    proposer_params: SamplingParams = Field(
        default=SearchGameConfig.model_fields["proposer"].default,
        description="With questions='proposer': proposer sampling, per turn of its tool loop "
        "(the search game's default).",
    )
    verifier_params: SamplingParams = Field(
        default=SearchGameConfig.model_fields["verifier"].default,
        description="With questions='proposer': RAG verifier sampling (greedy, so validity "
        "does not depend on a coin flip).",
    )
    warmup_proposer_share: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description="With questions='proposer': share of warm-up demonstrations from the search "
        "game's (half its proposer's backward searches, half the forward searches the RAG "
        "verifier plays).",
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
        default={1: 0.35, 2: 0.25},
        description="Greedy planner EM each hop count must reach on probe questions before the "
        "warm-up stops: both levels begun, neither known. Measured with the default mix (checks "
        "every 100 steps): probe .20 / .30 at step 800, .45 / .50 at 900, where it stops, "
        "held-out two-source EM .34, room for RL (which has not yet lifted it beyond the noise, "
        "docs/learning.md). The earlier bar of .6 on 1-hop stopped at ~1600 steps with "
        "two-source already at .68.",
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

    def search_config(self) -> SearchGameConfig:
        """The search game's settings the proposer, its filters and the RAG verifier play by
        (questions='proposer'): this game's world, ranking and hop counts, the search game's
        defaults for the rest."""
        return SearchGameConfig(
            world_articles=self.world_articles,
            world_seed=self.world_seed,
            search_mode=self.search_mode,
            snippet_chars=self.snippet_chars,
            min_hops=self.min_hops,
            max_hops=self.max_hops,
            proposer_reward=self.proposer_reward,
            proposer=self.proposer_params,
            verifier=self.verifier_params,
            warmup_mix={h: share for h, share in self.warmup_mix.items() if h in self.hop_counts},
            warmup_proposer_share=0.5,
        )

    @property
    def hop_counts(self) -> list[int]:
        """The hop counts questions are drawn from."""
        return list(range(self.min_hops, self.max_hops + 1))

    def planner_turns(self, hops: int) -> int:
        """Planner turns for a question of `hops`: one delegation a hop, one to spare, one to
        answer."""
        return hops + 2
