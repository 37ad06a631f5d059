"""grokinterp.progress on a tiny model that really groks, plus phases() on planted curves."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grokinterp import load_run, progress
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


def test_table_exports(grokked):
    _, t = grokked
    d = t.to_dict()
    assert set(d) >= set(progress.COLUMNS) and all(isinstance(v, np.ndarray) for v in d.values())
    d["step"][0] = -5  # a copy
    assert t["step"][0] == 0
    rows = list(t)
    assert rows[-1]["step"] == t.steps[-1]
    pd = pytest.importorskip("pandas")
    df = t.to_pandas()
    assert isinstance(df, pd.DataFrame) and list(df["step"]) == list(t.steps)


def test_phases_on_planted_curves():
    steps = np.arange(0, 2000, 100)
    p = 13
    test = np.full(len(steps), 1e-6)
    test[:4] = [2.5, 5.0, 9.0, 12.0]  # memorisation: test loss climbs to its peak at step 300
    test[4:9] = [11.0, 8.0, 4.0, math.log(p) - 0.1, 0.5]  # first below ln 13 at step 700
    test[9:12] = [1e-2, 1e-4, 3e-6]  # still settling; within 2x of 1e-6 from step 1200 on
    excluded = np.full(len(steps), 5.0)
    excluded[:11] = np.linspace(0.1, 20.0, 11)  # settles (within 2x of 5.0) from step 1100 on
    ph = progress.phases({"step": steps, "test_loss": test, "excluded_loss": excluded}, p=p)
    assert (ph.memorization_end, ph.circuit_formation_end, ph.cleanup_end) == (300, 700, 1200)
    assert ph["cleanup_end"] == 1200 and set(ph.as_dict()) == {"memorization_end", "circuit_formation_end",
                                                              "cleanup_end"}
    never = progress.phases({"step": steps, "test_loss": np.linspace(3, 9, len(steps))}, p=p)
    assert never.circuit_formation_end is None and never.cleanup_end is None


def test_measures_refuse_tasks_without_a_sum_circuit(tmp_path):
    out = tmp_path / "mul"
    train(tiny(**{"task.op": "mul", "train.steps": 2}), out, progress=False)
    with pytest.raises(ValueError, match="mul"):
        progress.measures(load_run(out), progress=False)


def test_the_never_grokked_warning_points_at_the_callers_line(tmp_path):
    """The warning names the user's line, not progress.py nor the type checker's wrapper (jaxtyping's
    `@jaxtyped`, which the suite's import hook puts around every function), however deep it is raised."""
    train(tiny(**{"train.steps": 2, "train.ckpt_every": 2, "train.ckpt_log_points": 0}), tmp_path / "young",
          progress=False)
    run = load_run(tmp_path / "young")
    with pytest.warns(UserWarning, match="has not grokked") as direct:
        progress.default_keys(run)
    with pytest.warns(UserWarning, match="has not grokked") as nested:
        progress.measures(run, progress=False)  # measures -> default_keys
    for record in (direct, nested):
        assert [w.filename for w in record if "has not grokked" in str(w.message)] == [__file__]


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
