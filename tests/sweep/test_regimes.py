"""Liu et al.'s regimes over a sweep (`grokinterp.sweep.regimes`): a planted grid of runs."""

from __future__ import annotations

from grokinterp.report.sweep import regime_diagram
from grokinterp.sweep.regimes import classify_run, regime_grid


def _rows(train_at: int | None, test_at: int | None, last: int = 6000) -> list[dict]:
    """Accuracy 0.1 before and 1.0 from the given steps, logged every 100 steps."""
    return [{"step": s, "train_acc": 1.0 if train_at is not None and s >= train_at else 0.1,
             "test_acc": 1.0 if test_at is not None and s >= test_at else 0.1} for s in range(0, last + 1, 100)]


def test_regime_grid_planted():
    # x = weight_decay, y = lr; each cell's curves are built to land in one phase
    planted = {  # (lr, wd): (state, t_train, t_test)
        (1e-3, 0.0): ("done", 200, None),  # memorization
        (1e-3, 1.0): ("done", 200, 3000),  # grokking (gap 2800 > 1000)
        (3e-3, 0.0): ("done", None, None),  # confusion
        (3e-3, 1.0): ("done", 200, 500),  # comprehension (gap 300)
        (1e-2, 0.0): ("failed", None, None),
        (1e-2, 1.0): ("interrupted", 200, 500),
    }
    runs = [classify_run(f"lr={lr}_wd={wd}", {"train.lr": lr, "train.weight_decay": wd}, state, _rows(a, b))
            for (lr, wd), (state, a, b) in planted.items()]
    grid = regime_grid(runs, "train.weight_decay", [0.0, 1.0], "train.lr", [1e-3, 3e-3, 1e-2])
    assert grid.labels() == [["memorization", "grokking"], ["confusion", "comprehension"], ["failed", "unfinished"]]
    assert (grid.cells[0][1].t_train, grid.cells[0][1].t_test) == (200, 3000)
    assert (grid.cells[1][1].t_train, grid.cells[1][1].t_test) == (200, 500)
    assert grid.cells[2][1].regime is None and grid.cells[2][1].final["step"] == 6000
    # a smaller gap makes the grokking cell comprehension; a missing cell stays empty
    fast = classify_run("x", {}, "done", _rows(200, 3000), gap=5000)
    assert fast.regime == "comprehension"
    partial = regime_grid(runs[:1], "train.weight_decay", [0.0, 1.0], "train.lr", [1e-3])
    assert partial.labels() == [["memorization", None]]
    fig = regime_diagram(grid)
    heat = fig.data[0]
    assert [list(r) for r in heat.text] == grid.labels()
    assert list(heat.z[0]) == [2, 1] and list(heat.z[2]) == [4, 5]  # codes: the order of REGIMES, failed, unfinished
    assert "t_test: 3000" in heat.hovertext[0][1] and "lr=0.001_wd=1.0" in heat.hovertext[0][1]
    assert [t.name for t in fig.data[1:]] == ["comprehension", "grokking", "memorization", "confusion", "failed",
                                              "unfinished"]
    assert list(heat.x) == ["0", "1"] and list(heat.y) == ["0.001", "0.003", "0.01"]

