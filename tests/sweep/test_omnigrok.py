"""Omnigrok's sweep measures (`grokinterp.sweep.omnigrok`): a planted LU landscape and critical training-set
size."""

from __future__ import annotations

import math

import pytest

from grokinterp.report.omnigrok import lu_figure, size_figure
from grokinterp.sweep import omnigrok


def rows(train_loss, test_loss, train_acc=1.0, test_acc=0.5, steps=(0, 10)):
    return [{"step": s, "train_loss": train_loss, "test_loss": test_loss, "train_acc": train_acc,
             "test_acc": test_acc} for s in steps]


def test_a_planted_lu_landscape_has_its_bottom_at_the_goldilocks_norm():
    """L: train loss high below w = 4 and ~0 above; U: test loss (ln w - ln 8)^2 + 0.1, lowest at w = 8."""
    norms = [1, 2, 4, 8, 16, 32, 64]
    runs = [(f"w={w}", {"accel.weight_norm": w}, "done",
             rows(1.0 if w < 4 else 1e-3, (math.log(w) - math.log(8)) ** 2 + 0.1)) for w in norms]
    runs.append(("w=128", {"accel.weight_norm": 128}, "failed", rows(0.0, 0.0)))  # not finished: left out
    points = omnigrok.lu_points(runs)
    assert [p.weight_norm for p in points] == norms
    assert omnigrok.best_norm(points) == 8
    fig = lu_figure(points, init_norm=30.0)
    assert "LU" in fig.layout.title.text and fig.layout.xaxis.type == "log"
    assert {t.name for t in fig.data} >= {"standard init: w = 30", "best test loss: w = 8"}


def test_the_critical_size_is_where_every_larger_size_generalises():
    runs = []
    for wd, accs in ((0.1, {25: 0.12, 50: 0.2, 100: 0.7, 200: 0.9}), (0.0, {25: 0.1, 50: 0.15, 100: 0.3, 200: 0.4})):
        for n, acc in accs.items():
            for seed in (0, 1):
                runs.append((f"n={n}_wd={wd}_s={seed}", {"task.n_train": n, "train.weight_decay": wd,
                                                         "model.seed": seed}, "done",
                             rows(0.0, 1.0, test_acc=acc + 0.01 * seed)))
    series = omnigrok.size_series(omnigrok.size_points(runs))
    assert set(series) == {"train.weight_decay=0.1", "train.weight_decay=0"}
    assert [n for n, *_ in series["train.weight_decay=0.1"]] == [25, 50, 100, 200]
    assert series["train.weight_decay=0.1"][2][1] == pytest.approx(0.705)  # the median over the two seeds
    assert omnigrok.critical_size(series["train.weight_decay=0.1"]) == 100
    assert omnigrok.critical_size(series["train.weight_decay=0"]) is None
    fig = size_figure(series, chance=0.1)
    assert any("critical size 100" in t.name for t in fig.data) and any("never" in t.name for t in fig.data)



def test_size_table_has_one_row_per_run_with_its_best_test_accuracy():
    from grokinterp.presets import get_preset
    from grokinterp.sweep.omnigrok import SIZE_TABLE_COLUMNS, size_table

    a = get_preset("digits-omnigrok").with_overrides({"task.n_train": 50, "train.weight_decay": 0.0})
    b = get_preset("digits-omnigrok").with_overrides({"task.n_train": 100, "model.seed": 2})
    rows = size_table([(a, [{"test_acc": 0.2}, {"test_acc": 0.6}, {"test_acc": 0.5}]), (b, [{"test_acc": 0.9}]),
                       (b, [])])
    assert [tuple(r) for r in rows] == [SIZE_TABLE_COLUMNS] * 2
    assert rows[0] == {"dataset": "digits", "n_train": 50, "weight_decay": 0.0, "seed": 0, "best_test_acc": 0.6}
    assert rows[1]["seed"] == 2 and rows[1]["weight_decay"] == 0.1 and rows[1]["best_test_acc"] == 0.9
