"""Search Self-Play (SSP, arXiv 2510.18821) over a generated world: propose, verify, solve.

One shared policy plays the proposer and the solvers. The proposer is given a gold answer (an
entity of the corpus) and a number of searches n (1..3, the hop count); it searches with the
tool loop (`<search>query</search>`, results masked from the loss) and writes a question in
`<answer>...</answer>`. Filters in code (filters.py), then the RAG verifier (verifier.py, fails
closed), then n solvers each run the tool loop and answer, scored by SQuAD exact match
(rewards.py). The corpus and its index are set up once per process (library.py); tasks,
held-out evaluation and oracle demonstrations come from the world's fact table (heldout.py).

Where this follows SSP and where the tiny model forces a change:
- as SSP: the proposer gets the answer and must search; the verifier sees all of the
  proposer's documents plus noise and no tools, and its answer must match the gold; 5 solvers
  form one GRPO group; the proposer is paid 1 - solve rate on a verified question and nothing
  on an unverified one; retrieved text is masked out of the loss (as Search-R1).
- changed: the corpus is a generated world of a few hundred short articles, not Wikipedia (no
  model knows its facts, and a tiny model's context holds a 3-hop trajectory); 1 result a
  solver search and 2 a proposer search, whole articles (~80 tokens a result line); BM25
  ranking (made-up names are rare terms); the question is written in the answer tag (the tool
  loop's one terminal tag); the verification fails closed (SSP's code returns valid when its
  check throws); the verifier searches the proposer's documents and the noise with the
  solver's tool loop instead of reading them all in its prompt (verifier.py says why); noise
  documents are drawn from the corpus, not from other rollouts of a batch; the verifier is
  greedy; the
  warm-up imitates oracle searches from the fact table before any RL (SSP starts from an
  instruction-tuned 7B+ model that can already search).

    from sparring.graphs.search import game, SearchGameConfig
"""

from sparring.credit import RoleSpec
from sparring.graphs.game import Game
from sparring.graphs.search.config import ProposerReward, SearchGameConfig
from sparring.graphs.search.filters import Check, check_proposal
from sparring.graphs.search.graph import Attempt, Proposal, SearchState, build, start
from sparring.graphs.search.heldout import demonstration, evaluate, ready, tasks
from sparring.graphs.search.library import Library, build_library, library_for
from sparring.graphs.search.rewards import proposer_reward, score
from sparring.graphs.search.source import SearchTaskSource
from sparring.graphs.search.verifier import RagVerdict, verify_question
from sparring.messages import Role

__all__ = [
    "Attempt",
    "Check",
    "Library",
    "Proposal",
    "ProposerReward",
    "RagVerdict",
    "SearchGameConfig",
    "SearchState",
    "SearchTaskSource",
    "build",
    "build_library",
    "check_proposal",
    "demonstration",
    "evaluate",
    "game",
    "library_for",
    "proposer_reward",
    "ready",
    "score",
    "start",
    "tasks",
    "verify_question",
]

game = Game(
    name="search",
    description="Search Self-Play: propose a question for an answer by searching, RAG-verify it, "
    "solvers search and answer",
    config_model=SearchGameConfig,
    build=build,
    start=start,
    score=score,
    task_source=SearchTaskSource,
    evaluate=evaluate,
    demonstrations=demonstration,
    ready=ready,
    warmup_batch=32,
    # An episode is seven tool loops (~3 trained samples a second on two cores): the global
    # 16-group steps came a minute apart and 8 minutes of them left the held-out figures flat,
    # 8-group steps moved them (docs/learning.md, "Search Self-Play").
    run_defaults={"trainer": {"batch_groups": 8, "min_samples": 64}},
    roles={
        Role.PROPOSER: RoleSpec(
            estimator="rae",
            grouping="call",
            description="searches from a gold answer and writes a question it answers",
        ),
        Role.SOLVER: RoleSpec(
            estimator="grpo", description="searches and answers; n attempts form a group"
        ),
    },
)
"""The search Game, as `load_game("search")` returns it."""
