"""The arith game: the CPU default, small enough to watch a tiny model learn on two cores.

The proposer gets a target digit (0-9) and a difficulty d (operations, 1..4 by default) and
writes, showing its work, a problem over single digits with + and -, d operations, whose value
mod 10 is the target ("target 7 ops 2" -> "5+4=9,9-2=7", the problem "5+4-2"). The verifier
recomputes it exactly; n solvers compute it with a
scratchpad ("compute 5+4-2" -> "5+4=9,9-2=7"); the judge compares the last number. Rewards in
`rewards`, the adaptive curriculum in `curriculum`, held-out evaluation in `heldout`.

    from sparring.graphs.arith import game, ArithConfig
"""

from sparring.credit import RoleSpec
from sparring.graphs.arith.config import ArithConfig, ProposerReward
from sparring.graphs.arith.curriculum import ArithTaskSource
from sparring.graphs.arith.graph import ArithState, build, start
from sparring.graphs.arith.heldout import (
    demonstration,
    evaluate,
    heldout_problems,
    random_expression,
    ready,
)
from sparring.graphs.arith.rewards import proposer_reward, score
from sparring.graphs.game import Game
from sparring.messages import Role

__all__ = [
    "ArithConfig",
    "ArithState",
    "ArithTaskSource",
    "ProposerReward",
    "build",
    "demonstration",
    "evaluate",
    "game",
    "heldout_problems",
    "proposer_reward",
    "random_expression",
    "ready",
    "score",
    "start",
]

game = Game(
    name="arith",
    description="write a +/- expression over digits hitting a target mod 10; solvers compute it",
    config_model=ArithConfig,
    build=build,
    start=start,
    score=score,
    task_source=ArithTaskSource,
    evaluate=evaluate,
    demonstrations=demonstration,
    ready=ready,
    roles={
        Role.PROPOSER: RoleSpec(
            estimator="rae",
            grouping="call",
            description="writes a d-operation problem whose value is the target",
        ),
        Role.SOLVER: RoleSpec(
            estimator="grpo", description="computes the problem; n attempts form a group"
        ),
    },
)
"""The arith Game, as `load_game("arith")` returns it."""
