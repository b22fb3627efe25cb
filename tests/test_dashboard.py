"""The live dashboard shows any game's evaluation figures, per-role sample counts and failures."""

from __future__ import annotations

from rich.console import Console

from sparring.dashboard import Dashboard, natural
from sparring.messages import Metric


def _text(dashboard: Dashboard) -> str:
    console = Console(record=True, width=160)
    console.print(dashboard.render())
    return console.export_text()


def _rows(text: str) -> dict[str, list[str]]:
    """Table rows by their first cell (box-drawing borders dropped)."""
    cells = [line.replace("│", " ").replace("┃", " ").split() for line in text.splitlines()]
    return {row[0]: row[1:] for row in cells if row}


def _metric(source: str, step: int, values: dict[str, float]) -> Metric:
    return Metric(run="r", source=source, step=step, values=values)


def test_levels_sort_naturally_so_d2_comes_before_d10() -> None:
    assert sorted(["d10", "d1", "d2", "d11"], key=natural) == ["d1", "d2", "d10", "d11"]


def test_arith_levels_show_greedy_sampled_and_start_in_natural_order() -> None:
    d = Dashboard("r")
    levels = (1, 2, 10, 11)
    d.add(_metric("eval", 0, {f"acc_greedy/d{n}": 0.1 for n in levels}))
    d.add(_metric("eval", 5, {f"acc_greedy/d{n}": 0.9 for n in levels} | {"acc_sampled/d2": 0.5}))
    text = _text(d)
    rows = _rows(text)
    assert [k for k in rows if k.startswith("d")] == ["d1", "d2", "d10", "d11"]
    assert rows["d2"] == ["0.90", "0.50", "0.10"] and rows["d10"] == ["0.90", "0.10"]
    assert "greedy at start" in " ".join(text.split())


def test_a_two_seat_games_win_rates_and_a_flat_figure_appear_in_the_table() -> None:
    d = Dashboard("r")
    d.add(
        _metric(
            "eval",
            3,
            {"win_rate/random/seat0": 0.75, "win_rate/random/seat1": 0.25, "draws": 0.125},
        )
    )
    rows = _rows(_text(d))
    assert rows["random/seat0"][0:1] == ["0.75"] and rows["random/seat1"][0:1] == ["0.25"]
    assert "0.12" in rows["all"] or "0.13" in rows["all"]  # the flat key, its own column
    assert "win_rate/random/seat0=0.75" in d.line()


def test_samples_per_role_show_trained_and_each_reason_to_skip() -> None:
    d = Dashboard("r")
    d.add(
        _metric(
            "trainer",
            7,
            {
                "loss": 0.5,
                "trained/solver": 640,
                "skipped_all_equal/solver": 96,
                "skipped_singleton/proposer": 12,
                "dropped_stale/seat_1": 3,
            },
        )
    )
    text = _text(d)
    assert "samples per role" in text
    rows = _rows(text)
    assert rows["solver"] == ["640", "96", "0", "0", "0", "0"]
    assert rows["proposer"] == ["0", "0", "12", "0", "0", "0"]
    assert rows["seat_1"] == ["0", "0", "0", "0", "3", "0"]
    assert "too long" not in text and "nonfinite" not in text  # none happened: no column


def test_refusals_of_broken_input_get_a_column_once_one_happened() -> None:
    d = Dashboard("r")
    values = {"trained/solver": 64, "dropped_too_long/solver": 2, "skipped_nonfinite/judge": 8}
    d.add(_metric("trainer", 3, values))
    text = _text(d)
    assert "too long" in text and "nonfinite" in text and "invalid" not in text
    rows = _rows(text)
    assert rows["solver"] == ["64", "0", "0", "0", "0", "0", "2", "0"]
    assert rows["judge"] == ["0", "0", "0", "0", "0", "0", "0", "8"]


def test_a_failed_worker_is_shown_loudly_and_left_out_of_the_worker_averages() -> None:
    d = Dashboard("r")
    d.add(_metric("worker-0", 1, {"episodes_per_s": 2.0, "reward/solver": 0.5}))
    d.add(_metric("worker-1", 1, {"failed": 1.0}))
    assert "worker-1 failed: see logs/worker-1.log" in _text(d)
    assert "failed" not in d.workers()
    assert "worker-1=FAILED" in d.line()


def test_each_restarted_process_gets_a_line_with_its_count_and_last_cause() -> None:
    from sparring.config import SupervisorConfig
    from sparring.supervisor import Restarts, restart_record

    d = Dashboard("r")
    restarts = Restarts(SupervisorConfig())
    for code in (-9, 1):
        delay = restarts.next_delay(0.0)
        assert delay is not None
        d.add(restart_record("r", "trainer", code, restarts, delay, step=3))
    text = " ".join(_text(d).split())
    assert "restarted trainer 2x, last: trainer exited with code 1: restart 2" in text
    assert d.line().endswith("trainer_restarts=2")
