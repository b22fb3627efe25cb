"""The roles: plain async functions over a Policy, each with its prompt and strict parser.

Each role returns a typed result holding the `Call` records of the policy calls it made; parsers
are total (malformed output is an invalid result with a reason, never an exception). Which policy
plays a role is the game's choice (`sparring.graphs.Policies`); these functions take any Policy.
"""

from sparring.roles.call import Call, CallRecorder, ask, parsed_json
from sparring.roles.judge import (
    JUDGE_PROMPT,
    Judgement,
    judge_messages,
    judge_number,
    judge_with_policy,
    parse_judgement,
)
from sparring.roles.proposer import (
    PROPOSER_PROMPT,
    Proposal,
    parse_proposal,
    propose_expression,
    proposer_messages,
)
from sparring.roles.solver import (
    SOLVER_PROMPT,
    Solution,
    parse_solution,
    solve_expression,
    solver_messages,
)
from sparring.roles.tool_loop import (
    RESULT_CLOSE,
    RESULT_OPEN,
    Tool,
    ToolLoopOutcome,
    ToolLoopResult,
    parse_turn,
    run_tool_loop,
)
from sparring.roles.verifier import Verification, verify_expression

__all__ = [
    "JUDGE_PROMPT",
    "PROPOSER_PROMPT",
    "RESULT_CLOSE",
    "RESULT_OPEN",
    "SOLVER_PROMPT",
    "Call",
    "CallRecorder",
    "Judgement",
    "Proposal",
    "Solution",
    "Tool",
    "ToolLoopOutcome",
    "ToolLoopResult",
    "Verification",
    "ask",
    "judge_messages",
    "judge_number",
    "judge_with_policy",
    "parse_judgement",
    "parse_proposal",
    "parse_solution",
    "parse_turn",
    "parsed_json",
    "propose_expression",
    "proposer_messages",
    "run_tool_loop",
    "solve_expression",
    "solver_messages",
    "verify_expression",
]
