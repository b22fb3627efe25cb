"""eval.png draws whatever figures a game's `evaluate` returns, not only arith's."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from sparring.messages import Metric
from sparring.plots import plot_run


def _write(run_dir: Path, evals: list[dict[str, float]]) -> None:
    lines = [
        Metric(run="r", source="eval", step=5 * i, values=v, time=100.0 + i).model_dump_json()
        for i, v in enumerate(evals)
    ]
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")


def _drawn_labels(monkeypatch: pytest.MonkeyPatch, run_dir: Path) -> list[str]:
    """Draw the run and return the legend labels of eval.png, with no matplotlib warning."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels: list[str] = []
    close = plt.close

    def keep_labels(fig: object) -> None:
        suptitle = fig._suptitle  # type: ignore[attr-defined]
        for ax in fig.axes:  # type: ignore[attr-defined]
            legend = ax.get_legend()
            if legend is not None and suptitle is not None and "evaluation" in suptitle.get_text():
                labels.extend(t.get_text() for t in legend.get_texts())
        close(fig)  # type: ignore[arg-type]

    monkeypatch.setattr(plt, "close", keep_labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        written = plot_run(run_dir)
    assert run_dir / "plots" / "eval.png" in written
    return labels


def test_a_two_seat_games_win_rates_are_plotted_one_line_per_opponent_and_seat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = ["win_rate/random/seat1", "win_rate/random/seat0", "draws"]
    _write(tmp_path, [dict.fromkeys(keys, 0.25), dict.fromkeys(keys, 0.5)])
    labels = _drawn_labels(monkeypatch, tmp_path)
    assert labels == ["draws", "random/seat0", "random/seat1"]


def test_arith_levels_keep_one_colour_per_level_in_natural_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = {f"acc_{mode}/d{n}": 0.5 for mode in ("greedy", "sampled") for n in (1, 2, 10)}
    _write(tmp_path, [values, values])
    # one panel: greedy first (solid), sampled reuses each level's colour, no legend entry
    assert _drawn_labels(monkeypatch, tmp_path) == ["d1", "d2", "d10"]


def test_a_figure_and_its_sampled_twin_share_a_panel_and_other_figures_get_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = {
        "chips/random/seat0": 0.1,
        "chips_sampled/random/seat0": 0.2,
        "exploitability/greedy": 0.3,
        "legal": 1.0,
        "legal_sampled": 0.9,
    }
    _write(tmp_path, [values, values])
    labels = _drawn_labels(monkeypatch, tmp_path)
    # panels chips, exploitability, legal; a twin adds no legend entry of its own
    assert labels == ["random/seat0", "greedy", "legal"]
