"""The report of a sweep directory (grokinterp.report.sweep): run phases, the phase diagram, the best-accuracy
bars."""

from __future__ import annotations

from grokinterp import cli
from grokinterp.sweep.read import load_sweep
from grokinterp.sweep.regimes import classify_run, sweep_regimes
from tests.sweep.helpers import NAMES


def test_report_of_a_sweep_directory(tiny_sweep, capsys):
    out, _ = tiny_sweep
    assert cli.main(["report", str(out), "--threshold", "0.1", "--gap", "10"]) == 0
    assert "report written to" in capsys.readouterr().out
    html = (out / "report.html").read_text()
    assert "Phase diagram" in html and "Test accuracy" in html
    for name in ("comprehension", "grokking", "memorization", "confusion", *NAMES):
        assert name in html
    runs, _ = sweep_regimes(load_sweep(out), threshold=0.1, gap=10)
    assert all(r.regime is not None for r in runs)
    # at the default threshold none of the 30-step runs reaches 90% train accuracy
    runs, _ = sweep_regimes(load_sweep(out))
    assert [r.regime for r in runs] == ["confusion"] * 4
    assert cli.main(["report", str(out), "--steps", "10"]) == 2
    assert "--steps is for run reports" in capsys.readouterr().err


def test_best_accuracy_bars_take_each_runs_best_and_final():
    from grokinterp.report.sweep import best_accuracy_bars

    rows_a = [{"step": 0, "train_acc": 0.1, "test_acc": 0.1}, {"step": 10, "train_acc": 1.0, "test_acc": 0.8},
              {"step": 20, "train_acc": 1.0, "test_acc": 0.6}]
    rows_b = [{"step": 0, "train_acc": 0.1, "test_acc": 0.05}, {"step": 10, "train_acc": 1.0, "test_acc": 0.3}]
    runs = [classify_run("wd=1", {}, "done", rows_a), classify_run("dropout", {}, "done", rows_b)]
    fig = best_accuracy_bars(runs, {"wd=1": rows_a, "dropout": rows_b})
    assert list(fig.data[0].x) == ["wd=1", "dropout"] and list(fig.data[0].y) == [0.8, 0.3]
    assert list(fig.data[1].y) == [0.6, 0.3]

