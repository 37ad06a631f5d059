"""Liu et al. 2022's regimes over a sweep ("Towards Understanding Grokking: An Effective Theory of Representation
Learning", Fig. 6/7): each finished run is put in one of the four regimes by
`grokinterp.analysis.regimes.regime_of` on its metrics: comprehension, grokking, memorization or confusion,
from the first steps t_train, t_test at which train / test accuracy reach `threshold` and the `gap` between
them. Runs that failed are "failed", runs without a done status (interrupted, still running, not started)
"unfinished".

Pure parts (data in, no I/O): `classify_run` (metrics rows -> `RunRegime`), `regime_grid` (runs -> the cells
of a two-axis grid). `sweep_regimes` reads a sweep. The figures: `grokinterp.report.sweep`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grokinterp.analysis.regimes import REGIMES, regime_of

LABELS = (*REGIMES, "failed", "unfinished")


@dataclass(frozen=True)
class RunRegime:
    """One run of a sweep, classified."""

    name: str
    overrides: dict[str, Any]
    state: str  # done | failed | unfinished
    regime: str | None  # one of REGIMES for a done run, else None
    t_train: int | None  # first step with train accuracy >= threshold
    t_test: int | None  # the same for test accuracy
    final: dict[str, Any] | None  # the last metrics row

    @property
    def label(self) -> str:
        """The regime, or "failed" / "unfinished"."""
        return self.regime or ("failed" if self.state == "failed" else "unfinished")


def classify_run(name: str, overrides: dict[str, Any], state: str, rows: list[dict[str, Any]], *,
                 threshold: float = 0.9, gap: int = 1000, budget: int | None = None) -> RunRegime:
    """The regime of one run from its metrics rows (dicts with step, train_acc, test_acc). `state` is the
    run's status ("done", "failed"; anything else counts as unfinished): only done runs get a regime."""
    rows = [r for r in rows if "train_acc" in r and "test_acc" in r]
    state = state if state in ("done", "failed") else "unfinished"
    final = rows[-1] if rows else None
    if state != "done" or not rows:
        return RunRegime(name, overrides, state, None, None, None, final)
    result = regime_of([r["train_acc"] for r in rows], [r["test_acc"] for r in rows], [r["step"] for r in rows],
                      threshold=threshold, gap=gap, budget=budget)
    return RunRegime(name, overrides, state, result.regime, result.train_step, result.test_step, final)


@dataclass(frozen=True)
class RegimeGrid:
    """The cells of a two-axis sweep: `cells[i][j]` is the run at y_values[i], x_values[j] (None if absent)."""

    x_key: str
    x_values: list[Any]
    y_key: str
    y_values: list[Any]
    cells: list[list[RunRegime | None]]

    def labels(self) -> list[list[str | None]]:
        """The label of every cell (a regime, failed, unfinished, or None for a missing run)."""
        return [[c.label if c is not None else None for c in row] for row in self.cells]


def regime_grid(runs: list[RunRegime], x_key: str, x_values: list[Any], y_key: str,
               y_values: list[Any]) -> RegimeGrid:
    """Place each run at the cell of its `x_key` and `y_key` override values (in the given value order)."""
    cells: list[list[RunRegime | None]] = [[None] * len(x_values) for _ in y_values]
    for run in runs:
        if x_key not in run.overrides or y_key not in run.overrides:
            continue
        xs = [j for j, v in enumerate(x_values) if v == run.overrides[x_key]]
        ys = [i for i, v in enumerate(y_values) if v == run.overrides[y_key]]
        if xs and ys:
            cells[ys[0]][xs[0]] = run
    return RegimeGrid(x_key, list(x_values), y_key, list(y_values), cells)


def sweep_regimes(sweep, *, threshold: float = 0.9, gap: int = 1000,
                 budget: int | None = None) -> tuple[list[RunRegime], dict[str, list[dict[str, Any]]]]:
    """Classify every run of a `grokinterp.sweep.Sweep`; returns the runs and each run's metrics rows."""
    from grokinterp.runs.store import RunStore

    out, metrics = [], {}
    for run in sweep.runs:
        rows = RunStore(sweep.path / "runs" / run.name).read_metrics()
        metrics[run.name] = rows
        out.append(classify_run(run.name, run.overrides, sweep.state(run.name), rows, threshold=threshold,
                                gap=gap, budget=budget))
    return out, metrics
