"""Power et al.'s cosets over a sweep (grokinterp.sweep.cosets): each run's rows at its generalised checkpoint and
its last, equal to `progress.coset_table` there; the irrep shares named largest first."""

from __future__ import annotations

import csv

import pytest

from grokinterp import progress
from grokinterp.sweep import cosets
from grokinterp.sweep.driver import run_sweep
from grokinterp.sweep.spec import load_spec
from tests.sweep.helpers import write_spec


def test_the_largest_irrep_shares_come_first():
    row = {"W_U:trivial": 0.05, "W_U:standard": 0.6, "W_U:sign": 0.1, "W_U:2,2": 0.25, "top_subgroup_order": 4}
    assert cosets.top_irreps(row) == "standard=0.60;2,2=0.25"
    assert cosets.top_irreps(row, k=3) == "standard=0.60;2,2=0.25;sign=0.10"


def test_a_permutation_sweep_gets_rows_at_the_generalised_and_the_last_checkpoint(tmp_path, capsys):
    # Power et al.'s model on S4, 20 steps; a low threshold makes an early checkpoint count as "generalised"
    spec = write_spec(tmp_path / "spec.toml", preset="power-compose",
                      set_={"task.n": 4, "model.d_model": 32, "model.n_heads": 4, "model.d_head": 8,
                            "model.d_mlp": 64, "train.steps": 20, "train.ckpt_every": 10,
                            "train.ckpt_log_points": 0, "train.log_every": 10, "train.grok_threshold": 0.01},
                      grid={"model.seed": [0, 1]})
    run_sweep(load_spec(spec), tmp_path / "sweep", progress=False)
    assert cosets.main([str(tmp_path / "sweep"), "--csv", str(tmp_path / "c.csv")]) == 0
    rows = list(csv.DictReader((tmp_path / "c.csv").open()))
    assert list(rows[0]) == list(cosets.COLUMNS)
    from grokinterp.sweep import load_sweep

    sweep = load_sweep(tmp_path / "sweep")
    for seed in (0, 1):
        run = sweep.run(sweep.runs[seed].name)
        mine = [r for r in rows if r["seed"] == str(seed)]
        grokked = progress.grokked_step(run)
        assert [int(r["step"]) for r in mine] == sorted({grokked, run.steps[-1]} - {None})
        table = progress.coset_table(run, [int(r["step"]) for r in mine], progress=False)
        for i, r in enumerate(mine):
            assert int(r["top_subgroup_order"]) == table["top_subgroup_order"][i]
            assert r["d5_best_rank"] == "" and r["top_is_d5_conjugate"] == "False"  # D5 is an S5 subgroup
            assert float(r["val_acc"]) == pytest.approx(next(m["test_acc"] for m in run.metrics
                                                             if m["step"] == int(r["step"])))
            assert int(r["d_vocab_out"]) == run.task().d_vocab_out
    # a run that is not done yet (here: its status file gone, as while it trains) has no "after cleanup" row
    status = next((tmp_path / "sweep" / "status").glob("*.json"))
    name = status.stem
    status.unlink()
    run = sweep.run(name)
    assert progress.grokked_step(run) < run.steps[-1]
    assert [r["step"] for r in cosets.coset_rows(tmp_path / "sweep") if r["seed"] == run.config.model.seed] == \
        [progress.grokked_step(run)]
    capsys.readouterr()
    assert cosets.main([str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.startswith("error: no sweep at")


def test_a_generalised_run_gets_a_row_where_it_first_generalised(permutation_run):
    rows = cosets.run_rows(permutation_run)
    grokked = progress.grokked_step(permutation_run)
    assert grokked is not None and [r["step"] for r in rows] == [grokked, permutation_run.steps[-1]]
    assert all(r["val_acc"] >= permutation_run.config.train.grok_threshold for r in rows[:1])
    # the session's S4 run learns a faithful irrep (tests/e2e/test_permutation_runs.py): it carries W_U
    assert rows[-1]["irreps"].split(";")[0].split("=")[0] in {"standard", "standard_sign"}
