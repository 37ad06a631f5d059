"""Omnigrok's sweep measures (Liu, Michaud & Tegmark 2023, "Omnigrok: grokking beyond algorithmic data"), for
`grokinterp report SWEEP_DIR`:

- **The LU landscape** (their Fig. 2, Sec. 3), for a sweep over `accel.weight_norm` (training at a fixed total
  weight norm w: every step is followed by a rescaling of all parameters to norm w): the final train and test
  loss of each run against w, log x. Their claim: the train loss against w is an "L" (high below a critical
  norm, about 0 above it) and the test loss a "U" whose bottom, the Goldilocks norm w_c, lies below large
  initialisations. The figure marks the norm of the model's standard initialisation (init scale 1) and the
  norm with the lowest test loss.
- **The critical training-set size** (their Sec. 4 and Fig. 6, MNIST: about 200 images), for a sweep over
  `task.n_train`: the best test accuracy within the budget against the number of training examples, one line
  per setting of the other varied keys (e.g. weight decay, where wd 0 shows no grokking), with chance level.
  The critical size of a line is the smallest size whose best test accuracy reaches `GENERALISED` (0.5: half
  way from a 10-class chance level to perfect); below it test accuracy stays near chance within the budget.

Pure parts: `lu_points`, `best_norm`, `size_points`, `size_series`, `critical_size`, `size_table` (one row per
run: dataset, n_train, weight_decay, seed, best_test_acc); `sweep_runs` gives them a sweep's runs. The figures:
`grokinterp.report.omnigrok`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from grokinterp.sweep.fractions import SEED_KEYS
from grokinterp.sweep.spec import format_value

NORM_KEY = "accel.weight_norm"


SIZE_KEY = "task.n_train"


GENERALISED = 0.5


@dataclass(frozen=True)
class LUPoint:
    """A finished run of a fixed-norm sweep: its norm and final losses and accuracies."""

    name: str
    series: str  # the other varied settings, "" if none
    weight_norm: float
    train_loss: float
    test_loss: float
    train_acc: float
    test_acc: float


def _series(overrides: dict[str, Any], key: str) -> str:
    return ", ".join(f"{k}={format_value(v)}" for k, v in overrides.items() if k != key and k not in SEED_KEYS)


def lu_points(runs: list[tuple[str, dict[str, Any], str, list[dict[str, Any]]]]) -> list[LUPoint]:
    """`runs`: (name, overrides, state, metrics rows); the done runs with an `accel.weight_norm` > 0."""
    out = []
    for name, overrides, state, rows in runs:
        w = overrides.get(NORM_KEY)
        if state != "done" or not rows or w is None or w <= 0:
            continue
        last = rows[-1]
        out.append(LUPoint(name, _series(overrides, NORM_KEY), float(w), last["train_loss"], last["test_loss"],
                           last["train_acc"], last["test_acc"]))
    return sorted(out, key=lambda p: (p.series, p.weight_norm))


def best_norm(points: list[LUPoint]) -> float | None:
    """The weight norm of the lowest test loss (the bottom of the U), or None without points."""
    finite = [p for p in points if math.isfinite(p.test_loss)]
    return min(finite, key=lambda p: p.test_loss).weight_norm if finite else None


@dataclass(frozen=True)
class SizePoint:
    """A run of a training-size sweep."""

    name: str
    series: str
    n_train: int
    state: str
    best_test_acc: float
    final_test_acc: float
    final_train_acc: float


def size_points(runs: list[tuple[str, dict[str, Any], str, list[dict[str, Any]]]]) -> list[SizePoint]:
    """`runs`: (name, overrides, state, metrics rows); those with a `task.n_train` and rows."""
    out = []
    for name, overrides, state, rows in runs:
        n = overrides.get(SIZE_KEY)
        if n is None or not rows:
            continue
        out.append(SizePoint(name, _series(overrides, SIZE_KEY), int(n), state,
                             max(r["test_acc"] for r in rows), rows[-1]["test_acc"], rows[-1]["train_acc"]))
    return out


def size_series(points: list[SizePoint]) -> dict[str, list[tuple[int, float, float, int]]]:
    """Per series: (n_train, median best test accuracy, median final test accuracy, runs) over seeds, by size."""
    out: dict[str, list[tuple[int, float, float, int]]] = {}
    for series in dict.fromkeys(p.series for p in points):
        ps = [p for p in points if p.series == series]
        rows = []
        for n in sorted({p.n_train for p in ps}):
            at = [p for p in ps if p.n_train == n]
            rows.append((n, float(np.median([p.best_test_acc for p in at])),
                         float(np.median([p.final_test_acc for p in at])), len(at)))
        out[series] = rows
    return out


def critical_size(rows: list[tuple[int, float, float, int]], threshold: float = GENERALISED) -> int | None:
    """The smallest n_train from which on every larger size's best test accuracy reaches `threshold`."""
    ok = [best >= threshold for _, best, _, _ in rows]
    for i, (n, *_) in enumerate(rows):
        if all(ok[i:]):
            return n
    return None


def sweep_runs(sweep, metrics: dict[str, list[dict[str, Any]]]) -> list[tuple[str, dict[str, Any], str, list]]:
    """The (name, overrides, state, metrics rows) of every run of a `grokinterp.sweep.Sweep`, from the rows
    already read (`grokinterp.sweep.regimes.sweep_regimes` returns them), for `lu_points` and `size_points`."""
    return [(run.name, run.overrides, sweep.state(run.name), metrics.get(run.name, [])) for run in sweep.runs]


SIZE_TABLE_COLUMNS = ("dataset", "n_train", "weight_decay", "seed", "best_test_acc")


def size_table(runs: list[tuple[Any, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """One row per run with metrics, from (its `RunConfig`, its metrics rows): `dataset` (`task.dataset`, else the
    task's description), `n_train`, `weight_decay`, `seed` (`model.seed`) and `best_test_acc`, the best test
    accuracy of any logged step."""
    return [{"dataset": getattr(cfg.task, "dataset", cfg.task.describe()), "n_train": cfg.task.n_train,
             "weight_decay": cfg.train.weight_decay, "seed": cfg.model.seed,
             "best_test_acc": max(r["test_acc"] for r in rows)}
            for cfg, rows in runs if rows]


def init_norm(cfg) -> float:
    """The total weight norm of `cfg`'s model at its standard initialisation (init scale 1)."""
    from grokinterp.models import build_tensors, named_tensors, weight_sq
    from grokinterp.tasks import make_task

    task = make_task(cfg.task)
    model = build_tensors(cfg.model, task.d_vocab, task.d_vocab_out, task.n_ctx)
    return math.sqrt(weight_sq(named_tensors(model)))
