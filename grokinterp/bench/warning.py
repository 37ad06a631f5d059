"""The early-warning benchmark: `python -m grokinterp.bench warning SWEEP_DIR` scores every registered measure as
a warning of grokking over the runs of a sweep (`configs/sweeps/early-warning.toml`: 24 runs over fraction x
weight decay x seed, some grokking within the budget and some not), with one rule for all
(`grokinterp.analysis.warning`: calibrated leave-one-run-out; lead time, false alarms, AUROC).

`restricted_loss` and `excluded_loss` are Nanda et al.'s, with the key frequencies of the run's last checkpoint
at every step: they look ahead to the circuit the run ends with. Their `_causal` versions take each checkpoint's
own key frequencies. Every other measure reads only its checkpoint (and, for ILDR, the test inputs and labels;
for the losses, the data), so its alarm is causal.

Adding a measure is one function `(run, steps) -> values at those steps` and one line in `MEASURES`. Each run's
values are cached in SWEEP_DIR/warning/NAME.json, so an interrupted benchmark resumes and a new measure costs
only its own computation.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from grokinterp import progress
from grokinterp.analysis import warning as w
from grokinterp.runs.run import Run
from grokinterp.sweep import load_sweep
from grokinterp.sweep.fractions import first_step

Measure = Callable[[Run, list[int]], np.ndarray]
CSV_COLUMNS = ("measure", "auroc", "lead_median", "false_alarms", "runs")


def from_metrics(column: str) -> Measure:
    """A column of the run's own metrics log, at the checkpoint steps."""
    def measure(run: Run, steps: list[int]) -> np.ndarray:
        rows = {r["step"]: r for r in run.metrics}
        return np.array([rows[s][column] if s in rows and column in rows[s] else math.nan for s in steps])
    return measure


def from_table(table_fn: Callable[..., Any], column: str, **kwargs) -> Measure:
    """A column of a `grokinterp.progress` table (computed once per run for all its columns: see `measure_run`)."""
    def measure(run: Run, steps: list[int]) -> np.ndarray:
        table = table_fn(run, steps, progress=False, **kwargs)
        return np.asarray(table[column], dtype=np.float64)
    measure.table = (table_fn, tuple(sorted(kwargs.items())))  # runs sharing a table compute it once
    measure.column = column
    return measure


def causal_nanda(column: str) -> Measure:
    """Nanda's restricted or excluded loss with each checkpoint's own key frequencies (all that is known at that
    step), where `progress.measures` takes the final checkpoint's for every step (Nanda's definition, which
    looks ahead: the frequencies of the circuit the run will end with)."""
    def measure(run: Run, steps: list[int]) -> np.ndarray:
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "has not grokked": expected before the circuit forms
            for s in steps:
                keys = progress.default_keys(run, s)
                out.append(progress.measures(run, [s], key_freqs=keys, progress=False)[column][0])
        return np.array(out, dtype=np.float64)
    return measure


# LLC and Hessian at cheaper settings than their defaults: 24 runs x 31 checkpoints each
LLC = {"num_draws": 100, "num_burnin": 50}
HESSIAN = {"n_samples": 16, "max_iter": 20}

MEASURES: dict[str, Measure] = {
    "test_loss": from_metrics("test_loss"),
    "train_loss": from_metrics("train_loss"),
    "weight_norm": from_metrics("weight_norm"),
    "restricted_loss": from_table(progress.measures, "restricted_loss"),
    "excluded_loss": from_table(progress.measures, "excluded_loss"),
    "restricted_loss_causal": causal_nanda("restricted_loss"),
    "excluded_loss_causal": causal_nanda("excluded_loss"),
    "gini_W_E": from_table(progress.measures, "gini_W_E"),
    "gini_W_L": from_table(progress.measures, "gini_W_L"),
    "llc": from_table(progress.llc, "llc", **LLC),
    "hessian_trace": from_table(progress.hessian, "trace", **HESSIAN),
    "hessian_top_eigenvalue": from_table(progress.hessian, "top_eigenvalue", **HESSIAN),
    "softmax_collapse": from_table(progress.softmax_collapse, "softmax_collapse"),
    "htsr_alpha": from_table(progress.spectral, "alpha_mean"),
    "correlation_traps": from_table(progress.spectral, "traps_total"),
    "ildr": from_table(progress.ildr, "ildr"),
}


def measure_run(run: Run, names: list[str], cache: Path) -> dict[str, list[float]]:
    """The measures `names` at every checkpoint of `run`, read from `cache` (a JSON file) where it has them and
    computed (once per progress table) where not; the cache is rewritten after each table."""
    steps = run.steps
    stored = json.loads(cache.read_text()) if cache.exists() else {}
    values = stored.get("values", {}) if stored.get("steps") == steps else {}
    tables: dict[Any, Any] = {}
    for name in names:
        if name in values:
            continue
        fn = MEASURES[name]
        key = getattr(fn, "table", None)
        if key is None:
            values[name] = fn(run, steps).tolist()
        else:
            if key not in tables:
                table_fn, kwargs = key
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # Nanda's "has not grokked": the table says which runs did
                    tables[key] = table_fn(run, steps, progress=False, **dict(kwargs))
            values[name] = np.asarray(tables[key][fn.column], dtype=np.float64).tolist()
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"steps": steps, "values": values}))
    return values


def landmarks(run: Run) -> tuple[int | None, int | None]:
    """(t_fit, t_grok): the first logged steps with train accuracy >= 0.99 and test accuracy >= the run's
    `train.grok_threshold`."""
    rows = run.metrics
    return first_step(rows, "train_acc", 0.99), first_step(rows, "test_acc", run.config.train.grok_threshold)


def bench_warning(sweep_dir: str | Path, names: list[str] | None = None, sustain: int = 2, early: float = 0.2,
                  log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Score `names` (default: every registered measure) over the finished runs of the sweep; one row per
    measure, best AUROC first."""
    names = list(MEASURES) if names is None else names
    unknown = [n for n in names if n not in MEASURES]
    if unknown:
        raise ValueError(f"unknown measure(s) {', '.join(unknown)} (known: {', '.join(MEASURES)})")
    sweep = load_sweep(sweep_dir)
    done = [r.name for r in sweep.runs if sweep.state(r.name) == "done"]
    if len(done) < 3:
        raise ValueError(f"{sweep_dir}: {len(done)} finished run(s); the benchmark needs at least 3 (run the sweep)")
    series: dict[str, list[w.RunSeries]] = {n: [] for n in names}
    for i, name in enumerate(done):
        run = sweep.run(name)
        log(f"[{i + 1}/{len(done)}] {name}")
        values = measure_run(run, names, Path(sweep_dir) / "warning" / f"{name}.json")
        t_fit, t_grok = landmarks(run)
        for n in names:
            series[n].append(w.RunSeries(name, np.array(run.steps), np.array(values[n], dtype=np.float64), t_fit,
                                         t_grok, run.config.train.steps))
    rows = []
    for n in names:
        s = w.score(series[n], sustain=sustain, early=early)
        rows.append({"measure": n, "auroc": s.auroc, "lead_median": s.lead_median, "false_alarms": s.false_alarms,
                     "runs": s.runs, "hits": s.hits, "grokking_runs": s.grokking_runs,
                     "lead_fraction_median": s.lead_fraction_median})
    return sorted(rows, key=lambda r: (-(r["auroc"] if math.isfinite(r["auroc"]) else -1), r["measure"]))


def write_csv(rows: list[dict[str, Any]], path: str | Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("" if isinstance(r[k], float) and not math.isfinite(r[k]) else
                                 round(r[k], 4) if isinstance(r[k], float) else r[k]) for k in CSV_COLUMNS})


def print_warning(rows: list[dict[str, Any]], out=None) -> None:
    out = sys.stdout if out is None else out

    def fmt(x, spec):
        return "-" if isinstance(x, float) and not math.isfinite(x) else format(x, spec)

    print(f"{'measure':<24} {'AUROC':>6} {'hits':>9} {'lead (steps)':>13} {'lead / t_grok':>14} "
          f"{'false alarms':>13}", file=out)
    for r in rows:
        print(f"{r['measure']:<24} {fmt(r['auroc'], '.3f'):>6} {r['hits']:>4} of {r['grokking_runs']:<2} "
              f"{fmt(r['lead_median'], '.0f'):>13} {fmt(r['lead_fraction_median'], '.2f'):>14} "
              f"{r['false_alarms']:>5} of {r['runs'] - r['grokking_runs']:<5}", file=out)
