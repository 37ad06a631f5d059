"""Per-run outcomes of a sweep (grokinterp.sweep.outcomes): planted metrics rows give the first steps at the
threshold, the final values and the collapse; a real tiny sweep gets one row per run, on stdout or in a CSV."""

from __future__ import annotations

import csv

from grokinterp.sweep import outcomes
from grokinterp.sweep.driver import run_sweep
from grokinterp.sweep.spec import load_spec
from grokinterp.train import train
from tests.helpers import TINY, tiny
from tests.sweep.helpers import write_spec


def test_planted_rows_give_the_first_steps_the_final_values_and_the_collapse():
    rows = [
        {"step": 0, "train_acc": 0.1, "test_acc": 0.0, "test_loss": 4.0, "train_softmax_collapse": 0.0},
        {"step": 10, "train_acc": 0.995, "test_acc": 0.2, "test_loss": 5.0, "train_softmax_collapse": 0.3},
        {"step": 20, "lr": 1e-3},  # a row without evaluation is passed over
        {"step": 30, "train_acc": 1.0, "test_acc": 0.991, "test_loss": 0.1, "train_softmax_collapse": 0.6},
        {"step": 40, "train_acc": 1.0, "test_acc": 0.98, "test_loss": 0.2, "train_softmax_collapse": 0.5},
    ]
    out = outcomes.outcome(rows, 0.99)
    assert out == {"steps": 40, "train_99": 10, "test_99": 30, "train_acc": 1.0, "test_acc": 0.98,
                   "test_loss": 0.2, "collapse_max": 0.6, "collapse_last": 0.5}
    assert outcomes.outcome(rows, 0.999)["test_99"] is None  # never within the budget
    assert outcomes.outcome([], 0.99)["steps"] is None


def test_a_sweep_gets_one_row_per_run_with_its_varied_settings(tmp_path, capsys):
    spec = write_spec(tmp_path / "spec.toml", preset="mod113",
                      set_={**{k: v for k, v in TINY.items() if k.startswith(("model.", "task."))},
                            "train.steps": 20, "train.ckpt_every": 10, "train.log_every": 5},
                      grid={"model.seed": [0, 1], "train.precision": ["float32", "bfloat16"]})
    run_sweep(load_spec(spec), tmp_path / "sweep", progress=False)
    assert outcomes.main([str(tmp_path / "sweep"), "--csv", str(tmp_path / "out.csv")]) == 0
    table = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert [(r["model.seed"], r["train.precision"]) for r in table] == [
        ("0", "float32"), ("0", "bfloat16"), ("1", "float32"), ("1", "bfloat16")]
    assert all(r["state"] == "done" and r["steps"] == "20" for r in table)
    # the final test accuracy is the run's own last logged one
    solo = train(tiny(**{"train.steps": 20, "train.ckpt_every": 10, "train.log_every": 5}), tmp_path / "solo",
                 progress=False)
    assert float(table[0]["test_acc"]) == solo.metrics["test_acc"]
    assert outcomes.main([str(tmp_path / "sweep")]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("model.seed,train.precision,state,steps,train_99")
    assert outcomes.main([str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.strip().startswith("error: no sweep at")
