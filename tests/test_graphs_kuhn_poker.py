"""Kuhn Poker on scripted policies: rules, parser, scoring, the graph, exact evaluation."""

from __future__ import annotations

import random

import pytest

from sparring.cli import main
from sparring.errors import GameError
from sparring.graphs import EpisodeOutcome, Policies, load_game, play_episode
from sparring.graphs.kuhn_poker import KuhnConfig, expected, exploitability, heuristic, uniform
from sparring.graphs.kuhn_poker.heldout import Strategy
from sparring.graphs.kuhn_poker.heldout import demonstrated as demonstrated_moves
from sparring.graphs.kuhn_poker.rules import (
    CARDS,
    DEALS,
    HISTORIES,
    chips,
    forfeit,
    legal_moves,
    parse_move,
)
from sparring.messages import ChatMessage, Task
from sparring.policy import ScriptedPolicy

GAME = load_game("kuhn_poker")
CFG = KuhnConfig()


def _seat_script(strategy: dict[str, str]) -> ScriptedPolicy:
    """Answers by the history in the prompt ("kuhn card K history cb" -> strategy["cb"])."""

    def script(messages: list[ChatMessage]) -> str:
        history = messages[-1].content.split("history")[1].strip()
        return strategy[history]

    return ScriptedPolicy(script)


def _alternating(illegal_every: int = 0, *, demonstrated: bool = False) -> ScriptedPolicy:
    """Plays the legal moves of each history in turn (so both are played half the time), or
    with `demonstrated` the moves of the demonstrated strategy in turn; with `illegal_every`,
    an "x" at the first information set every that many calls."""
    asked: dict[str, int] = {}

    def script(messages: list[ChatMessage]) -> str:
        text = messages[-1].content
        history = text.split("history")[1].strip()
        n = asked[text] = asked.get(text, 0) + 1
        if illegal_every and text.strip() == "kuhn card J history" and n % illegal_every == 0:
            return "x"
        moves = sorted(demonstrated_moves(text.split()[2], history)) if demonstrated else None
        return moves[n % len(moves)] if moves else legal_moves(history)[n % 2]

    return ScriptedPolicy(script)


CHECK_CALL = _seat_script({"": "c", "c": "c", "b": "c", "cb": "c"})
BET_FOLD = _seat_script({"": "b", "c": "b", "b": "f", "cb": "f"})


async def _play(policy: ScriptedPolicy, cards: list[str]) -> EpisodeOutcome:
    graph = GAME.build(Policies(default=policy), CFG)
    task = Task(run="t", game="kuhn_poker", params={"cards": list(cards)})
    return await play_episode(GAME, graph, task, CFG, worker="w0")


def test_every_terminal_history_pays_the_right_chips() -> None:
    # player_0 holds the higher card: showdowns pay the pot's half, folds the folder's stake.
    assert chips(("K", "J"), "cc") == 1
    assert chips(("K", "J"), "bc") == 2
    assert chips(("K", "J"), "cbc") == 2
    assert chips(("J", "K"), "cc") == -1
    assert chips(("J", "K"), "bc") == -2
    assert chips(("J", "K"), "cbc") == -2
    for cards in DEALS:  # a fold pays 1 to the bettor whatever the cards
        assert chips(cards, "bf") == 1
        assert chips(cards, "cbf") == -1
    with pytest.raises(ValueError, match="not the end"):
        chips(("K", "J"), "cb")


def test_an_illegal_move_forfeits_what_the_seat_put_in() -> None:
    assert forfeit("", 0) == -1 and forfeit("c", 1) == 1
    assert forfeit("b", 1) == 1  # player_1 had only the ante in when it failed to answer
    assert forfeit("cb", 0) == -1


def test_legal_moves_are_check_bet_before_a_bet_and_call_fold_after() -> None:
    assert [legal_moves(h) for h in HISTORIES] == ["cb", "cb", "cf", "cf"]
    with pytest.raises(ValueError):
        legal_moves("cc")


@pytest.mark.parametrize(
    "text", ["", " ", "cc", "C", "check", "b\nb", "x", "f", "\u00e9", "c b", "bc", "1"]
)
def test_the_parser_takes_exactly_one_legal_letter_and_nothing_else(text: str) -> None:
    assert parse_move(text, "") is None


def test_the_parser_strips_whitespace_and_knows_the_history() -> None:
    assert parse_move(" b\n", "") == "b"
    assert parse_move("f", "b") == "f" and parse_move("b", "b") is None
    assert parse_move("c", "cb") == "c"


async def test_a_hand_is_played_to_a_showdown_and_every_move_is_paid_its_seats_chips() -> None:
    outcome = await _play(CHECK_CALL, ["J", "K"])
    assert outcome.ok
    rewards = {s.role: s.reward for s in outcome.samples}
    assert len(outcome.samples) == 2 and rewards == {"player_0": -1.0, "player_1": 1.0}
    assert outcome.episode.stats["chips/player_0"] == -1.0
    assert outcome.episode.stats["illegal"] == 0.0
    won = {v.role: v.ok for v in outcome.episode.verdicts if v.name == "won"}
    assert won == {"player_0": False, "player_1": True}


async def test_a_bet_and_a_call_pay_every_move_and_seats_get_opposite_rewards() -> None:
    policy = _seat_script({"": "c", "c": "b", "cb": "c", "b": "c"})
    outcome = await _play(policy, ["K", "Q"])
    assert [s.role for s in outcome.samples] == ["player_0", "player_1", "player_0"]
    assert [s.reward for s in outcome.samples] == [2.0, -2.0, 2.0]
    assert outcome.episode.stats["chips/player_0"] == 2.0


async def test_with_the_sign_reward_a_won_bet_pays_one_like_any_win() -> None:
    policy = _seat_script({"": "c", "c": "b", "cb": "c", "b": "c"})
    graph = GAME.build(Policies(default=policy), KuhnConfig(reward="sign"))
    task = Task(run="t", game="kuhn_poker", params={"cards": ["K", "Q"]})
    outcome = await play_episode(GAME, graph, task, KuhnConfig(reward="sign"), worker="w0")
    assert [s.reward for s in outcome.samples] == [1.0, -1.0, 1.0]
    assert outcome.episode.stats["chips/player_0"] == 2.0


async def test_a_fold_loses_the_hand_for_the_folder() -> None:
    outcome = await _play(BET_FOLD, ["J", "K"])  # player_0 bets, player_1 folds its K
    assert [s.reward for s in outcome.samples] == [1.0, -1.0]
    assert outcome.episode.stats["chips/player_0"] == 1.0


async def test_an_illegal_move_loses_the_hand_with_a_verdict() -> None:
    policy = _seat_script({"": "c", "c": "f", "b": "c", "cb": "c"})  # player_1 folds to a check
    outcome = await _play(policy, ["J", "K"])  # ... holding the best card: it still loses
    # player_1 forfeits its ante (-1) and the illegal move pays the penalty on top (-1 more).
    assert [s.reward for s in outcome.samples] == [1.0, -2.0]
    assert outcome.episode.stats == {"chips/player_0": 1.0, "illegal": 1.0}
    (bad,) = [v for v in outcome.episode.verdicts if v.name == "legal_move"]
    assert bad.role == "player_1" and not bad.ok
    assert bad.sample_id == outcome.samples[1].id


async def test_only_the_illegal_move_pays_the_penalty_and_it_can_be_turned_off() -> None:
    # player_0 checks, player_1 bets, player_0 answers "b" (no raise in Kuhn): illegal.
    policy = _seat_script({"": "c", "c": "b", "cb": "b", "b": "c"})
    outcome = await _play(policy, ["K", "Q"])
    assert [s.reward for s in outcome.samples] == [-1.0, 1.0, -2.0]
    assert "more for being illegal" in outcome.episode.rewards[-1].reason
    cfg = KuhnConfig(illegal_penalty=0.0)
    graph = GAME.build(Policies(default=policy), cfg)
    task = Task(run="t", game="kuhn_poker", params={"cards": ["K", "Q"]})
    plain = await play_episode(GAME, graph, task, cfg, worker="w0")
    assert [s.reward for s in plain.samples] == [-1.0, 1.0, -1.0]  # a fold's cost, no more


async def test_a_malformed_first_move_ends_the_hand_at_once() -> None:
    outcome = await _play(ScriptedPolicy(lambda m: "raise"), ["K", "J"])
    assert [(s.role, s.reward) for s in outcome.samples] == [("player_0", -2.0)]
    assert outcome.episode.stats["chips/player_0"] == -1.0


def test_a_task_must_be_two_distinct_cards() -> None:
    for bad in ({"cards": ["K", "K"]}, {"cards": ["K"]}, {"cards": ["A", "K"]}, {}):
        with pytest.raises(GameError, match="two distinct"):
            GAME.start(Task(run="t", game="kuhn_poker", params=bad), CFG)


def test_deals_are_two_distinct_cards_and_cover_all_six() -> None:
    source = GAME.task_source(CFG, seed=3)
    seen = set()
    for _ in range(200):
        cards = source.next_params()["cards"]
        assert isinstance(cards, list)
        seen.add((str(cards[0]), str(cards[1])))
    assert seen == set(DEALS)


def test_the_seats_are_credited_against_their_own_baselines() -> None:
    assert set(GAME.roles) == {"player_0", "player_1"}
    assert {(s.estimator, s.grouping) for s in GAME.roles.values()} == {("rae", "call")}


def test_the_exact_values_match_a_hand_computed_always_check_call() -> None:
    always_c = _strategy({(c, h): "c" for c in CARDS for h in HISTORIES})
    # v random, either seat: each deal pays +-1 (check-check) or +-2 (bet-call), 1/2 each; the
    # signs cancel over the six deals and half of them are won.
    assert expected(always_c, uniform, 0) == pytest.approx((0.0, 0.5))
    assert expected(always_c, uniform, 1) == pytest.approx((0.0, 0.5))
    # v heuristic, seat 0: JQ -1, JK -2, QJ +1, QK -2, KJ +1, KQ +1 -> -2/6, won 3 of 6.
    assert expected(always_c, heuristic, 0) == pytest.approx((-1 / 3, 0.5))
    # seat 1 (opponent first, betting K): JQ +1, JK +1, QJ -1, QK +1, KJ -2, KQ -2 -> -2/6.
    assert expected(always_c, heuristic, 1) == pytest.approx((-1 / 3, 0.5))


def _strategy(moves: dict[tuple[str, str], str]) -> Strategy:
    return lambda card, history: {moves[(card, history)]: 1.0}


async def test_evaluate_is_exact_for_a_scripted_bet_fold_policy() -> None:
    policy = _seat_script({"": "b", "c": "b", "b": "f", "cb": "f"})
    figures = await GAME.evaluate(policy, KuhnConfig(eval_samples=4))
    # seat 0 v random: bet; a call (1/2) is a showdown for +-2 (cancels over deals), a fold
    # (1/2) pays +1: 0.5 chips, won 1/2 + 1/2 * 1/2 = 0.75.
    assert figures["chips/random/seat0"] == pytest.approx(0.5)
    assert figures["win_rate/random/seat0"] == pytest.approx(0.75)
    # seat 0 v heuristic: bet; K calls (lose 2), Q calls, J folds. JQ -2, JK -2, QJ +1, QK -2,
    # KJ +1, KQ +2 -> -2/6, won 3 of 6.
    assert figures["chips/heuristic/seat0"] == pytest.approx(-1 / 3)
    assert figures["win_rate/heuristic/seat0"] == pytest.approx(0.5)
    # seat 1 v heuristic: K bets and bet_fold folds (-1); J and Q check, bet_fold bets, J folds
    # (+1), Q calls. JQ +1, JK +1, QJ -2, QK +2, KJ -1, KQ -1 -> 0, won 3 of 6.
    assert figures["chips/heuristic/seat1"] == pytest.approx(0.0)
    assert figures["win_rate/heuristic/seat1"] == pytest.approx(0.5)
    assert figures["legal"] == 1.0 and figures["legal_sampled"] == 1.0
    # A deterministic policy samples what it plays greedily.
    for key in ("random/seat0", "random/seat1", "heuristic/seat0", "heuristic/seat1"):
        assert figures[f"chips_sampled/{key}"] == pytest.approx(figures[f"chips/{key}"])
    assert len(policy.calls) == 12 + 12 * 4  # one greedy call, 4 samples per information set


async def test_the_sampled_figures_follow_the_share_of_each_move() -> None:
    figures = await GAME.evaluate(_alternating(), KuhnConfig(eval_samples=8))
    # Half and half at every decision is the uniform opponent itself: v random, the seats
    # break even (zero-sum, symmetric), v heuristic each seat's exact value.
    assert figures["chips_sampled/random/seat0"] == pytest.approx(expected(uniform, uniform, 0)[0])
    assert figures["chips_sampled/heuristic/seat1"] == pytest.approx(
        expected(uniform, heuristic, 1)[0]
    )
    assert figures["legal_sampled"] == 1.0


async def test_an_illegal_policy_loses_every_hand_and_is_not_ready() -> None:
    policy = ScriptedPolicy(lambda m: "x")
    figures = await GAME.evaluate(policy, CFG)
    assert figures["legal"] == 0.0
    assert figures["win_rate/random/seat0"] == 0.0 and figures["win_rate/heuristic/seat1"] == 0.0
    assert figures["chips/random/seat0"] == -1.0 and figures["chips/random/seat1"] == -1.0
    assert not await GAME.ready(policy, CFG)
    assert await GAME.ready(_alternating(demonstrated=True), CFG)


async def test_ready_needs_legal_samples_at_every_information_set() -> None:
    cfg = KuhnConfig(eval_samples=8)
    # One sample in four illegal at one information set of twelve: there, c and b 3/8 each
    # and x 1/4 against 1/2 and 1/2: a distance of 1/4.
    assert not await GAME.ready(_alternating(illegal_every=4, demonstrated=True), cfg)
    loose = cfg.model_copy(update={"ready_tv": 0.3})
    assert await GAME.ready(_alternating(illegal_every=4, demonstrated=True), loose)


async def test_a_card_blind_policy_is_legal_but_not_ready() -> None:
    # "c" is legal at every decision: greedily legal everywhere, but it never bets or folds.
    figures = await GAME.evaluate(CHECK_CALL, KuhnConfig(eval_samples=2))
    assert figures["legal"] == 1.0
    assert not await GAME.ready(CHECK_CALL, CFG)
    # Uniform legal moves everywhere: spread and legal, but blind to the card (a king facing
    # a bet folds half the time).
    assert not await GAME.ready(_alternating(), CFG)


def test_demonstrations_are_the_half_known_game_at_every_reachable_state() -> None:
    rng, seen = random.Random(0), set()
    for _ in range(600):
        messages, move = GAME.demonstrations(rng, CFG)
        (message,) = messages
        card, history = message.content.split()[2], message.content.split("history")[1].strip()
        assert parse_move(move, history) == move
        seen.add((card, history, move))
    # 12 information sets x 2 legal moves, but a king facing a bet never folds and a jack
    # facing one never calls (2 histories each).
    assert len(seen) == 24 - 4
    assert ("K", "b", "f") not in seen and ("J", "cb", "c") not in seen
    assert ("Q", "b", "f") in seen and ("Q", "b", "c") in seen


def test_sparring_graph_draws_the_move_rules_loop(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "kuhn_poker"]) == 0
    out = capsys.readouterr().out
    assert "graph TD;" in out and "move --> rules;" in out and "rules -.-> move;" in out


def _nash(alpha: float) -> Strategy:
    """Kuhn's equilibrium family (Kuhn 1950): player_0 bluffs a J with alpha, bets a K with
    3 alpha, calls with a Q with alpha + 1/3; player_1 bets a K, bluffs a J 1/3, calls a Q 1/3."""
    table = {
        ("J", ""): {"b": alpha, "c": 1 - alpha},
        ("Q", ""): {"c": 1.0},
        ("K", ""): {"b": 3 * alpha, "c": 1 - 3 * alpha},
        ("J", "cb"): {"f": 1.0},
        ("Q", "cb"): {"c": alpha + 1 / 3, "f": 2 / 3 - alpha},
        ("K", "cb"): {"c": 1.0},
        ("J", "c"): {"b": 1 / 3, "c": 2 / 3},
        ("Q", "c"): {"c": 1.0},
        ("K", "c"): {"b": 1.0},
        ("J", "b"): {"f": 1.0},
        ("Q", "b"): {"c": 1 / 3, "f": 2 / 3},
        ("K", "b"): {"c": 1.0},
    }
    return lambda card, history: table[(card, history)]


@pytest.mark.parametrize("alpha", [0.0, 0.2, 1 / 3])
def test_an_equilibrium_is_not_exploitable_and_the_fixed_opponents_are(alpha: float) -> None:
    assert exploitability(_nash(alpha)) == pytest.approx(0.0, abs=1e-12)
    # The seats' game values: -1/18 for the first to act, whatever alpha.
    assert expected(_nash(alpha), _nash(alpha), 0)[0] == pytest.approx(-1 / 18)
    assert exploitability(uniform) == pytest.approx(11 / 24)
    assert exploitability(heuristic) == pytest.approx(1 / 6)
    assert exploitability(_strategy({(c, h): "c" for c in CARDS for h in HISTORIES})) > 0.3
