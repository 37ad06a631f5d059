"""Power et al. 2022's data-fraction curves ("Grokking: generalization beyond overfitting on small
algorithmic datasets", Fig. 1 right and Fig. 2), for a sweep over `task.frac_train`.

For every run, t_train and t_val are the first logged steps at which train and validation (test) accuracy
reach 99% (their criterion); a run whose accuracy never got there within its budget has t = None and is
kept, drawn as "not within the budget". Runs are grouped into series (one per operation: the runs that
differ only in `task.frac_train` and seeds), and at every fraction the series' median and spread (min to max)
over seeds are taken, with unreached runs counted as infinitely late: the median is "not within the budget"
once half the seeds never generalised.

- The smallest fraction that generalised: the smallest at which the median run reached 99% validation
  accuracy (and the smallest at which any seed did).
- The growth near the steep end: with f1 < f2 the two smallest fractions that generalised and t their
  median t_val, the increase of t per percentage point less data, (t(f1) / t(f2))^(1 / (100 (f2 - f1))) - 1.
  Power et al. quote 40-50% per 1% of data near 25-30%.

Pure parts (data in): `first_step`, `fraction_points`, `fraction_series`, `series_summary`, `fraction_table`
(one row per run: op, frac_train, seed, steps, train_99, val_99); `sweep_fraction_runs` and
`sweep_fraction_points` read a sweep. The figure and table: `grokinterp.report.fractions`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from grokinterp.sweep.spec import format_value

FRACTION_KEY = "task.frac_train"


SEED_KEYS = frozenset({"model.seed", "train.seed", "task.seed"})


THRESHOLD = 0.99  # Power et al.'s "steps until 99% accuracy"


def first_step(rows: list[dict[str, Any]], key: str, threshold: float = THRESHOLD) -> int | None:
    """The first logged step whose `key` is at least `threshold`, or None."""
    for r in rows:
        v = r.get(key)
        if v is not None and v >= threshold:
            return int(r["step"])
    return None


@dataclass(frozen=True)
class FractionPoint:
    """One run of a training-fraction sweep."""

    series: str  # the operation (and any other varied setting but seeds)
    frac: float
    name: str
    state: str  # done | failed | unfinished ...
    t_train: int | None
    t_val: int | None
    budget: int  # train.steps of the run

    @property
    def counted(self) -> bool:
        """Whether the run enters the medians: it ended (done), or it reached 99% validation accuracy already.
        Failed, interrupted and unfinished runs that have not are left out (they might still get there)."""
        return self.state == "done" or self.t_val is not None


def fraction_points(runs: list[tuple[str, dict[str, Any], str, str, int, list[dict[str, Any]]]],
                    threshold: float = THRESHOLD) -> list[FractionPoint]:
    """`runs`: (name, overrides, description of the task, state, budget, metrics rows) per run; the series
    label is the task description plus every varied override outside the task section that is not a seed."""
    out = []
    for name, overrides, describe, state, budget, rows in runs:
        frac = overrides.get(FRACTION_KEY)
        if frac is None:
            continue
        # the task's own keys are in its description
        rest = [f"{k}={format_value(v)}" for k, v in overrides.items()
                if k not in SEED_KEYS and not k.startswith("task.")]
        series = describe + (f" ({', '.join(rest)})" if rest else "")
        out.append(FractionPoint(series, float(frac), name, state, first_step(rows, "train_acc", threshold),
                                 first_step(rows, "test_acc", threshold), budget))
    return out


@dataclass(frozen=True)
class SeriesPoint:
    """One fraction of one series: medians and spreads over its seeds (None: not within the budget)."""

    frac: float
    n_runs: int
    n_val: int  # runs that reached 99% validation accuracy
    val_median: float | None
    val_min: int | None
    val_max: int | None
    train_median: float | None
    train_min: int | None
    train_max: int | None
    budget: int


def _stats(ts: list[int | None]) -> tuple[float | None, int | None, int | None]:
    reached = [t for t in ts if t is not None]
    med = float(np.median([math.inf if t is None else t for t in ts]))
    return (None if math.isinf(med) else med, min(reached, default=None), max(reached, default=None))


def fraction_series(points: list[FractionPoint]) -> dict[str, list[SeriesPoint]]:
    """Per series, its fractions in increasing order with median and spread over seeds (`counted` runs only)."""
    out: dict[str, list[SeriesPoint]] = {}
    points = [p for p in points if p.counted]
    for series in dict.fromkeys(p.series for p in points):
        mine = [p for p in points if p.series == series]
        rows = []
        for frac in sorted({p.frac for p in mine}):
            at = [p for p in mine if p.frac == frac]
            vm, vlo, vhi = _stats([p.t_val for p in at])
            tm, tlo, thi = _stats([p.t_train for p in at])
            rows.append(SeriesPoint(frac, len(at), sum(p.t_val is not None for p in at), vm, vlo, vhi, tm, tlo, thi,
                                    max(p.budget for p in at)))
        out[series] = rows
    return out


@dataclass(frozen=True)
class SeriesSummary:
    series: str
    min_frac: float | None  # smallest fraction whose median run generalised
    min_frac_any: float | None  # smallest fraction at which any seed generalised
    steps_at_min: float | None  # median t_val there
    growth_per_percent: float | None  # see the module docstring
    never: int  # runs that never reached 99% validation accuracy


def growth_per_percent(f1: float, t1: float, f2: float, t2: float) -> float:
    """Relative increase of steps per percentage point less data between fractions f1 < f2."""
    return (t1 / t2) ** (1 / (100 * (f2 - f1))) - 1


def series_summary(series: dict[str, list[SeriesPoint]]) -> list[SeriesSummary]:
    """One summary per series, ordered by the smallest fraction that generalised (never: last)."""
    out = []
    for name, rows in series.items():
        gen = [r for r in rows if r.val_median is not None]
        anyone = [r for r in rows if r.n_val > 0]
        growth = None
        if len(gen) >= 2:
            growth = growth_per_percent(gen[0].frac, gen[0].val_median, gen[1].frac, gen[1].val_median)
        out.append(SeriesSummary(name, gen[0].frac if gen else None, anyone[0].frac if anyone else None,
                                 gen[0].val_median if gen else None, growth,
                                 sum(r.n_runs - r.n_val for r in rows)))
    return sorted(out, key=lambda s: (s.min_frac is None, s.min_frac or 0.0, s.series))


def sweep_fraction_runs(sweep) -> list[tuple[str, dict[str, Any], str, str, int, list[dict[str, Any]]]]:
    """The (name, overrides, task description, state, budget, metrics rows) of every run of a
    `grokinterp.sweep.Sweep`, as `fraction_points` and `fraction_table` take them."""
    from grokinterp.runs.store import RunStore

    runs = []
    for run in sweep.runs:
        rows = RunStore(sweep.path / "runs" / run.name).read_metrics() if (sweep.path / "runs" / run.name).exists() \
            else []
        runs.append((run.name, run.overrides, run.config.task.describe(), sweep.state(run.name),
                     run.config.train.steps, rows))
    return runs


def sweep_fraction_points(sweep, threshold: float = THRESHOLD) -> list[FractionPoint]:
    """`fraction_points` of every run of a `grokinterp.sweep.Sweep` that varies `task.frac_train`."""
    return fraction_points(sweep_fraction_runs(sweep), threshold)


TABLE_COLUMNS = ("op", "frac_train", "seed", "steps", "train_99", "val_99")


def fraction_table(runs: list[tuple[str, dict[str, Any], str, str, int, list[dict[str, Any]]]],
                   threshold: float = THRESHOLD) -> list[dict[str, Any]]:
    """Power et al.'s measurement as a table, one row per counted run (`FractionPoint.counted`) of `runs` (as
    `fraction_points` takes them): `op` (the run's `task.op` override, else its task description),
    `frac_train`, `seed` (its `model.seed` override, None if not varied), `steps` (the budget), and `train_99`
    and `val_99`, the first logged steps at 99% train and validation accuracy (None: not within the budget)."""
    by_name = {r[0]: r[1] for r in runs}
    described = {r[0]: r[2] for r in runs}
    return [{"op": by_name[p.name].get("task.op", described[p.name]), "frac_train": p.frac,
             "seed": by_name[p.name].get("model.seed"), "steps": p.budget, "train_99": p.t_train,
             "val_99": p.t_val}
            for p in fraction_points(runs, threshold) if p.counted]
