"""Early-warning scoring (grokinterp.analysis.warning) on planted runs: a measure that moves a fixed number of
steps before grokking, and only in the runs that grok, leads by that many steps with no false alarm and an
AUROC of 1; one that moves only after grokking never leads; noise cannot separate; the alarm reads the past
only; and each run's rule is calibrated without it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grokinterp.analysis import warning as w

STEPS = np.arange(0, 6001, 200)


def planted_runs(shift: int, early_gap: float = 1.0, n_grok: int = 6, n_not: int = 6, seed: int = 0):
    """Grokking runs (t_grok 2,600 to 4,600) whose measure steps from 1 to 3 at t_grok - shift; non-grokking runs
    flat at 1; every run memorises at step 400. `early_gap` offsets the grokking runs' values before the step
    (for the AUROC at 20% of the budget)."""
    rng = np.random.default_rng(seed)
    runs = []
    for i in range(n_grok):
        t_grok = 2600 + 400 * i
        values = np.where(STEPS >= t_grok - shift, 3.0, 1.0 + early_gap) + 0.01 * rng.standard_normal(len(STEPS))
        runs.append(w.RunSeries(f"g{i}", STEPS, values, t_fit=400, t_grok=t_grok, budget=6000))
    for i in range(n_not):
        values = 1.0 + 0.01 * rng.standard_normal(len(STEPS))
        runs.append(w.RunSeries(f"n{i}", STEPS, values, t_fit=400, t_grok=None, budget=6000))
    return runs


def test_a_measure_that_moves_before_grokking_leads_by_that_much():
    s = w.score(planted_runs(shift=1000), sustain=2)
    # the alarm completes its second checkpoint 200 steps after the step: a lead of 800
    assert s.hits == s.grokking_runs == 6 and s.lead_median == 800 and s.false_alarms == 0 and s.runs == 12
    assert s.auroc == 1.0
    assert s.lead_fraction_median == pytest.approx(np.median([800 / (2600 + 400 * i) for i in range(6)]))


def test_a_measure_that_moves_only_after_grokking_never_leads():
    s = w.score(planted_runs(shift=-200, early_gap=0.0), sustain=2)
    assert s.hits == 0 and math.isnan(s.lead_median)
    assert 0.2 <= s.auroc <= 0.8  # no early separation planted


def test_noise_cannot_separate_the_runs():
    rng = np.random.default_rng(3)
    runs = [w.RunSeries(f"r{i}", STEPS, rng.standard_normal(len(STEPS)), t_fit=400,
                        t_grok=3000 if i % 2 else None, budget=6000) for i in range(30)]
    s = w.score(runs)
    assert 0.25 < s.auroc < 0.75
    assert s.hits <= 12


def test_the_alarm_reads_only_the_past():
    run = planted_runs(shift=1000)[0]
    a = w.alarm_step(run, +1, 0.3, sustain=2)
    assert a == run.t_grok - 800
    later = run.values.copy()
    later[STEPS > a] = -50.0  # whatever comes after the alarm
    assert w.alarm_step(w.RunSeries(run.name, STEPS, later, run.t_fit, run.t_grok, run.budget), +1, 0.3, 2) == a
    assert w.alarm_step(run, -1, 0.3, sustain=2) is None  # the other direction never fires
    assert w.alarm_step(w.RunSeries("x", STEPS, run.values, None, 3000, 6000), +1, 1.0) is None  # never memorised


def test_each_run_is_scored_by_a_rule_calibrated_without_it():
    runs = planted_runs(shift=1000)
    # a lone grokking run whose measure falls instead of rising: the others set the rule, so it is missed
    odd = runs[0]
    runs[0] = w.RunSeries(odd.name, STEPS, 4.0 - odd.values, odd.t_fit, odd.t_grok, odd.budget)
    alarms = w.leave_one_out(runs)
    assert alarms[0] is None and all(a is not None and a < r.t_grok for a, r in zip(alarms[1:6], runs[1:6]))


def test_auroc_counts_pairs():
    assert w.auroc([3.0, 2.0, 1.0, 0.0], [True, True, False, False]) == 1.0
    assert w.auroc([0.0, 1.0, 2.0, 3.0], [True, True, False, False]) == 0.0
    assert w.auroc([1.0, 1.0], [True, False]) == 0.5
    assert math.isnan(w.auroc([1.0, 2.0], [True, True]))
