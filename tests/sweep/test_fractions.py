"""Power et al.'s data-fraction curves (`grokinterp.sweep.fractions`): planted runs whose steps to 99% are
known, and the sweep specs that run them."""

from __future__ import annotations

import pytest

from grokinterp.sweep.fractions import first_step, fraction_points, fraction_series, growth_per_percent, series_summary
from tests.helpers import PLANTED_FRACTIONS, REPO, fraction_rows, fraction_run


def test_first_step_reads_the_crossing():
    rows = fraction_rows(120, 340)
    assert first_step(rows, "train_acc") == 120 and first_step(rows, "test_acc") == 340
    assert first_step(fraction_rows(120, None), "test_acc") is None


def test_medians_spreads_and_unreached_runs():
    series = fraction_series(fraction_points(PLANTED_FRACTIONS))
    assert list(series) == ["add mod 7", "sq mod 7"]
    add = {r.frac: r for r in series["add mod 7"]}
    assert [r.frac for r in series["add mod 7"]] == [0.2, 0.3, 0.4]
    assert add[0.3].val_median == 800 and (add[0.3].val_min, add[0.3].val_max) == (700, 900)
    assert add[0.4].val_median == 200 and add[0.4].train_median == 50
    # two of three never reached: the median run did not, the one that did stays in the spread
    assert add[0.2].val_median is None and add[0.2].n_val == 1 and add[0.2].val_max == 990
    sq = {r.frac: r for r in series["sq mod 7"]}
    assert sq[0.4].val_median == 600  # median of 500, 600 and never
    assert sq[0.3].val_median is None and sq[0.3].n_val == 0


def test_runs_that_have_not_ended_are_left_out_unless_they_got_there():
    running = fraction_run("add", 0.3, 3, 100, None)
    early = fraction_run("add", 0.3, 4, 100, 750)
    ended = [(*running[:3], "unfinished", *running[4:]), (*early[:3], "failed", *early[4:])]
    pts = fraction_points(PLANTED_FRACTIONS + ended)
    add = {r.frac: r for r in fraction_series(pts)["add mod 7"]}
    assert add[0.3].n_runs == 4 and add[0.3].val_median == 775  # 700, 750, 800, 900


def test_smallest_fraction_ordering_and_growth():
    add, sq = series_summary(fraction_series(fraction_points(PLANTED_FRACTIONS)))
    assert (add.series, add.min_frac, add.min_frac_any, add.steps_at_min) == ("add mod 7", 0.3, 0.2, 800)
    assert (sq.series, sq.min_frac, sq.never) == ("sq mod 7", 0.4, 4)
    # 800 steps at 30%, 200 at 40%: 4x over 10 points, 4^(1/10) - 1 = 14.9% per point
    assert add.growth_per_percent == pytest.approx(4 ** 0.1 - 1)
    assert sq.growth_per_percent is None  # one generalising fraction only
    assert growth_per_percent(0.25, 150.0, 0.26, 100.0) == pytest.approx(0.5)


def test_the_fraction_sweep_specs_expand():

    from grokinterp.sweep import expand, load_spec

    specs = REPO / "configs" / "sweeps"
    full = expand(load_spec(specs / "power-fractions.toml"))
    assert len(full) == 13 * 11 * 3
    assert {r.config.task.describe() for r in full} >= {"x/y mod 97", "x*y in S5"}
    assert all(r.config.model.arch == "power" and r.config.task.format == "power" for r in full)
    cpu = expand(load_spec(specs / "power-fractions-cpu.toml"))
    assert all(r.config.model.arch == "power" and "task.frac_train" in r.overrides for r in cpu)
    for name, n, group in (("power-regularisers.toml", 18, "S5"), ("power-regularisers-cpu.toml", 6, "S4")):
        runs = expand(load_spec(specs / name))
        assert len(runs) == n and all(r.config.task.describe() == f"x*y in {group}" for r in runs)
        assert {(r.config.model.dropout, r.config.train.weight_noise, r.config.train.batch_size) for r in runs} == {
            (0.0, 0.0, -1), (0.1, 0.0, -1), (0.0, 0.01, -1), (0.0, 0.0, 0)}



def test_fraction_table_has_one_row_per_counted_run():
    from grokinterp.sweep.fractions import TABLE_COLUMNS, fraction_table

    unfinished = ("add_0.5_0", {"task.op": "add", "task.frac_train": 0.5, "model.seed": 0}, "add mod 7",
                  "unfinished", 1000, fraction_rows(100, None, budget=500))
    rows = fraction_table(PLANTED_FRACTIONS + [unfinished])
    assert len(rows) == len(PLANTED_FRACTIONS) and all(tuple(r) == TABLE_COLUMNS for r in rows)
    assert rows[0] == {"op": "add", "frac_train": 0.3, "seed": 0, "steps": 1000, "train_99": 100, "val_99": 700}
    assert {(r["op"], r["frac_train"], r["seed"]): r["val_99"] for r in rows}[("sq", 0.4, 1)] is None
