"""Nanda et al.'s progress measures (grokinterp.progress.nanda) on a tiny model that really groks and on the S4
session run, and the default key frequencies."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grokinterp import load_run, progress
from grokinterp.analysis import groups as G
from grokinterp.train import train
from tests.helpers import tiny


@pytest.fixture(scope="module")
def grokked(grokked_run):
    return grokked_run, progress.measures(grokked_run, progress=False)


def test_table_has_one_row_per_checkpoint_and_agrees_with_training_logs(grokked):
    run, table = grokked
    assert list(table.steps) == run.steps and len(table) == len(run.steps)
    for col in ("step", "train_loss", "test_loss", "restricted_loss", "excluded_loss", "gini_W_E", "gini_W_L",
                "weight_norm"):
        assert col in table.columns and len(table[col]) == len(table)
    logged = {r["step"]: r for r in run.metrics}
    for i, step in enumerate(table.steps):
        row = logged[int(step)]
        for col in ("train_loss", "test_loss", "train_acc", "test_acc", "weight_norm"):
            assert table[col][i] == pytest.approx(row[col], rel=1e-5, abs=1e-7), (step, col)


def test_vectorised_equals_a_loop_over_hooked_models(grokked):
    run, table = grokked
    task = run.task()
    for i in (0, len(table) // 2, len(table) - 1):
        step = int(table.steps[i])
        with torch.no_grad():
            logits = run.model(step)(task.tokens)[:, -1]
        row = progress.measures_from_logits(logits, run.state_dict(step), task.labels[:, 0], task.train_idx,
                                             task.test_idx, progress.basis_for(run.config, table.key_freqs))
        for col, value in row.items():
            assert table[col][i] == pytest.approx(value, rel=1e-4, abs=1e-6), (step, col)


def test_grokking_leaves_the_paper_signatures(grokked):
    run, t = grokked
    assert 1 <= len(t.key_freqs) <= run.config.task.p // 2
    last = len(t) - 1
    assert t["test_acc"][last] >= 0.99
    # the generalising circuit explains the model: restricting to key frequencies keeps the loss low...
    assert t["restricted_loss"][last] < 0.1 * t["restricted_loss"][0]
    # ...and removing them destroys train performance although train loss is tiny
    assert t["excluded_loss"][last] > 100 * t["train_loss"][last]
    assert t["gini_W_E"][last] > t["gini_W_E"][0] + 0.1
    assert t["gini_W_L"][last] > t["gini_W_L"][0] + 0.1
    ph = progress.phases(t)
    assert ph.memorization_end is not None and ph.circuit_formation_end is not None
    assert ph.memorization_end < ph.circuit_formation_end
    assert ph.cleanup_end is None or ph.circuit_formation_end < ph.cleanup_end
    # restricted loss falls before test loss: below ln p earlier
    chance = math.log(run.config.task.p)
    first_below = {c: t.steps[np.argmax((t[c] < chance) & (t.steps > ph.memorization_end))]
                   for c in ("restricted_loss", "test_loss")}
    assert first_below["restricted_loss"] < first_below["test_loss"]


def test_measures_refuse_tasks_without_a_sum_circuit(tmp_path):
    out = tmp_path / "mul"
    train(tiny(**{"task.op": "mul", "train.steps": 2}), out, progress=False)
    with pytest.raises(ValueError, match="mul"):
        progress.measures(load_run(out), progress=False)


def test_default_keys_come_from_the_last_checkpoint_and_warn_only_when_never_grokked(grokked_run, tmp_path):
    import warnings

    from grokinterp.analysis import fourier

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a grokked run: no warning
        keys = progress.default_keys(grokked_run)
    last = grokked_run.state_dict(grokked_run.steps[-1])["embed.weight"][:23]
    assert keys == fourier.key_frequencies(last, 23)
    train(tiny(**{"train.steps": 20}), tmp_path / "young", progress=False)
    with pytest.warns(UserWarning, match="has not grokked"):
        progress.default_keys(load_run(tmp_path / "young"))


def test_progress_measures_on_a_permutation_run(permutation_run):
    table = progress.measures(permutation_run, progress=False)
    assert table.family == "permutation" and table.p == 24
    assert list(table.steps) == permutation_run.steps
    assert set(table.key_freqs) <= {G.irrep_name(lam) for lam in G.partitions(4)} - {"trivial"}
    logged = {r["step"]: r for r in permutation_run.metrics}
    for i, step in enumerate(table.steps):
        assert table["test_loss"][i] == pytest.approx(logged[int(step)]["test_loss"], rel=1e-5)
    # the vectorised measures equal those computed from the hooked TL model's logits
    task = permutation_run.task()
    step = permutation_run.steps[-1]
    with torch.no_grad():
        logits = permutation_run.model(step)(task.tokens)[:, -1]
    basis = progress.basis_for(permutation_run.config, ["standard", "sign"])
    row = progress.measures_from_logits(logits, permutation_run.state_dict(step), task.labels[:, 0], task.train_idx,
                                         task.test_idx, basis)
    again = progress.measures(permutation_run, [step], ["standard", "sign"], progress=False)
    for col, value in row.items():
        assert again[col][0] == pytest.approx(value, rel=1e-4, abs=1e-6), col
    assert 0 <= again["gini_W_E"][0] <= 1
