"""SearchConfig: every knob of the search game, each with a default that runs on two CPU cores.

The defaults are sized for the tiny model (policy/tiny.py): its tokenizer splits the world's
made-up names into near single characters, so an article is ~69 tokens and one search result
line ~80. The solver reads one result a search (its forward searches name the entity, whose
article ranks first) and the proposer two (searching backwards it needs the article that
mentions the answer, which ranks second), so a 3-hop solver trajectory stays near 300 tokens
and the verifier's prompt (every proposer document plus the noise) under 700.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from sparring.graphs.curriculum import CurriculumSettings, check_level_shares
from sparring.policy.base import SamplingParams
from sparring.roles.rewards import ProposerReward
from sparring.tools.search import SearchMode

__all__ = ["ProposerReward", "SearchGameConfig"]


class SearchGameConfig(CurriculumSettings):
    """The search game's section of the run config (`game_params`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    world_articles: int = Field(
        default=300,
        ge=20,
        description="Articles of the generated world (ignored when `corpus` is set). A few "
        "hundred build and index in seconds on a CPU.",
    )
    world_seed: int = Field(default=0, description="Seed the world is generated from.")
    corpus: Path | None = Field(
        default=None,
        description="Your own JSONL corpus ({'id', 'title', 'text'} per line) instead of the "
        "generated world. Gold answers are then passage titles, and there is no fact table: no "
        "demonstrations, readiness check or held-out evaluation.",
    )
    index: Path | None = Field(
        default=None,
        description="A saved index folder (`sparring index CORPUS OUT`) to load instead of "
        "building one; its passages are the corpus.",
    )
    search_mode: SearchMode = Field(
        default="bm25",
        description="Ranking: 'dense' (MiniLM + faiss), 'bm25', or 'hybrid' (RRF of both). "
        "Measured on the 300-article world (graphs/search/library.py): every mode finds the "
        "article of a 1-hop oracle query at rank 1; searching backwards from an answer (the "
        "article that mentions it) BM25 finds it in the top 2 for .45 of hops, hybrid .27, "
        "dense .10, and BM25 skips the query embedding.",
    )
    proposer_k: int = Field(
        default=2,
        ge=1,
        le=10,
        description="Results per proposer search. Searching backwards from an answer needs "
        "more than one: the answer's own article ranks first, an article that mentions it next.",
    )
    solver_k: int = Field(
        default=1,
        ge=1,
        le=10,
        description="Results per solver search. Searching forwards by an entity's name finds "
        "its article at rank 1 (library.py), and each further result is ~40 tokens the tiny "
        "model reads on every hop.",
    )
    snippet_chars: int = Field(
        default=140,
        ge=20,
        description="Characters of each result's text shown (world articles are at most ~135, "
        "so whole; a real corpus's passages are cut at a word boundary).",
    )
    min_hops: int = Field(default=1, ge=1, description="Fewest searches a task asks for.")
    max_hops: int = Field(default=3, ge=1, le=3, description="Most searches a task asks for.")
    questions: Literal["proposer", "oracle"] = Field(
        default="proposer",
        description="Who writes the solvers' questions: 'proposer' (self-play: the proposer "
        "searches from an answer, the verifier checks) or 'oracle' (the fact table's questions "
        "at the hop count the curriculum picks, no proposer trained; with curriculum='uniform' "
        "the fixed curriculum bench/learning.py compares self-play with). Not read by the "
        "warm-up: both share one cached warmed-up model.",
        json_schema_extra={"warmup": False},
    )
    n_solvers: int = Field(
        default=5, ge=1, description="Solver attempts per valid question, one group (SSP: 5)."
    )
    proposer: SamplingParams = Field(
        default=SamplingParams(max_new_tokens=80, top_p=0.9),
        description="Proposer sampling, per turn of its tool loop (a 3-hop question in the "
        "world's wording is ~60 tiny-model tokens).",
    )
    solver: SamplingParams = Field(
        default=SamplingParams(max_new_tokens=24, top_p=0.9),
        description="Solver sampling, per turn of its tool loop (also the evaluation's 'sampled').",
    )
    verifier: SamplingParams = Field(
        default=SamplingParams(max_new_tokens=24, temperature=0.0),
        description="RAG verifier sampling: greedy, so a question's validity does not depend on "
        "a coin flip.",
    )
    budget: int = Field(
        default=768,
        ge=16,
        description="Most completion tokens of one tool loop, search results included.",
    )
    question_min_chars: int = Field(default=12, ge=1, description="Shortest question accepted.")
    question_max_chars: int = Field(default=200, ge=1, description="Longest question accepted.")
    noise_docs: int = Field(
        default=2,
        ge=0,
        description="Documents from other articles added to the verifier's context, so a "
        "question answerable only by luck from a tiny context is caught.",
    )
    verifier_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="Seconds the RAG verifier may take; past it the question is invalid.",
    )
    proposer_reward: ProposerReward = Field(
        default="inverse_solve_rate",
        description="Pay for a valid question solved at rate p: 'inverse_solve_rate' = 1 - p "
        "(SSP's default); 'absolute_zero' = 0 if p is 0 or 1, else 1 - p (Absolute Zero, "
        "arXiv:2505.03335); 'learnability' = 4p(1 - p), 1 at p = 0.5.",
    )
    format_penalty: float = Field(
        default=-0.5,
        description="Proposer reward when a validity filter fails (no verifier, no solver ran).",
    )
    unverified_reward: float = Field(
        default=0.0,
        description="Proposer reward when the filters pass but the RAG verifier does not "
        "answer the gold (SSP pays an unverified question nothing).",
    )
    eval_questions: int = Field(default=40, ge=1, description="Held-out questions per hop count.")
    eval_seed: int = Field(default=20_251_021, description="Seed of the fixed held-out set.")
    warmup_mix: dict[int, float] = Field(
        default={1: 0.5, 2: 0.47, 3: 0.03},
        description="Share of each hop count among solver demonstrations: the easy counts plus a "
        "small share of the frontier, which RL is then to lift (search one entity, copy the "
        "next name is one skill: with 10% the 3-hop level was learned with the others, with 0% "
        "never; 3% leaves it half-known when the others are known, docs/learning.md).",
    )
    warmup_ready: dict[int, float] = Field(
        default={1: 0.7, 2: 0.7, 3: 0.2},
        description="Greedy EM each hop count must reach on probe questions (apart from the "
        "held-out set) before the warm-up stops: the easy counts known, the frontier begun.",
    )
    warmup_probe: int = Field(default=20, ge=1, description="Probe questions per hop count.")
    warmup_proposer_share: float = Field(
        default=0.3, ge=0, le=1, description="Share of demonstrations that teach the proposer."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.min_hops > self.max_hops:
            raise ValueError(f"min_hops {self.min_hops} > max_hops {self.max_hops}")
        if self.question_min_chars > self.question_max_chars:
            raise ValueError("question_min_chars is above question_max_chars")
        check_level_shares(self.warmup_mix)
        return self

    @property
    def hop_counts(self) -> list[int]:
        """The hop counts tasks are drawn from."""
        return list(range(self.min_hops, self.max_hops + 1))

    def max_turns(self, hops: int) -> int:
        """Tool-loop turns for a task of `hops`: one per required search, one to spare, one to
        answer (a trajectory may search again after a miss)."""
        return hops + 2
