"""Ungrokking tables (grokinterp.sweep.ungrokking): planted rows give the critical fraction where the final test
accuracy crosses 50%; a real sweep that continues a run at two fractions gets its table and its report figure."""

from __future__ import annotations

import pytest

from grokinterp.report.sweep import build_sweep_report
from grokinterp.sweep import load_sweep, ungrokking
from grokinterp.sweep.driver import run_sweep
from grokinterp.sweep.spec import load_spec
from grokinterp.train import train
from tests.helpers import TINY, tiny
from tests.sweep.helpers import write_spec


class Cfg:
    """The two config fields the table reads."""

    def __init__(self, frac, init="src"):
        self.task = type("T", (), {"frac_train": frac})()
        self.train = type("R", (), {"init_from": init})()


def rows(acc_after: dict[float, float]) -> list[tuple]:
    return [(Cfg(f), [{"step": 0, "test_acc": 1.0}, {"step": 50, "test_acc": a}]) for f, a in acc_after.items()]


def test_the_critical_fraction_is_where_the_final_accuracy_crosses_one_half():
    table = ungrokking.ungrokking_table(rows({0.1: 0.05, 0.2: 0.3, 0.3: 0.9, 0.4: 1.0}))
    assert [r["frac_train"] for r in table] == [0.4, 0.3, 0.2, 0.1]
    assert all(r["test_acc_before"] == 1.0 for r in table) and table[-1]["test_acc_after"] == 0.05
    assert ungrokking.d_crit(table) == pytest.approx(0.2 + 0.1 * (0.5 - 0.3) / (0.9 - 0.3))
    assert ungrokking.d_crit(ungrokking.ungrokking_table(rows({0.1: 0.9, 0.2: 1.0}))) is None  # nothing ungroks


def test_runs_that_did_not_start_from_another_run_or_log_step_0_are_left_out():
    kept = rows({0.3: 0.2})
    fresh = [(Cfg(0.2, init=""), [{"step": 0, "test_acc": 0.0}, {"step": 50, "test_acc": 0.1}])]
    resumed_log = [(Cfg(0.1), [{"step": 50, "test_acc": 0.1}])]
    assert [r["frac_train"] for r in ungrokking.ungrokking_table(kept + fresh + resumed_log)] == [0.3]


def test_a_sweep_that_continues_a_run_gets_the_table_and_the_figure(tmp_path):
    source = tmp_path / "source"
    train(tiny(**{"task.frac_train": 0.6}), source, progress=False)
    spec = write_spec(tmp_path / "spec.toml", preset="mod113",
                      set_={**{k: v for k, v in TINY.items() if k.startswith(("model.", "task.p"))},
                            "train.init_from": str(source), "train.steps": 10, "train.ckpt_every": 10,
                            "train.log_every": 5},
                      grid={"task.frac_train": [0.5, 0.3]})
    records = run_sweep(load_spec(spec), tmp_path / "sweep", progress=False)
    assert all(r["state"] == "done" for r in records)
    sweep = load_sweep(tmp_path / "sweep")
    assert ungrokking.is_continuation(sweep)
    table = ungrokking.ungrokking_table(ungrokking.sweep_ungrokking_runs(sweep))
    assert [r["frac_train"] for r in table] == [0.5, 0.3]
    page = build_sweep_report(tmp_path / "sweep").read_text()
    assert "Ungrokking: test accuracy after training on less data" in page
    assert "Steps to 99% accuracy against the training fraction" not in page
