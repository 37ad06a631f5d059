"""Omnigrok's sweep figures (Liu, Michaud & Tegmark 2023, "Omnigrok: grokking beyond algorithmic data"), for
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

Pure parts: `lu_points`, `lu_figure`, `best_norm`, `size_points`, `size_series`, `critical_size`,
`size_figure`; `sweep_runs` gives them a sweep's runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from grokinterp.report.figures import TEMPLATE
from grokinterp.report.fractions import SEED_KEYS
from grokinterp.sweep import format_value

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


def lu_figure(points: list[LUPoint], init_norm: float | None, loss_name: str = "loss",
              title: str = "LU: final train and test loss against the weight norm") -> go.Figure:
    """Losses (log y) and accuracies against the fixed weight norm (log x), with the standard initialisation's
    norm and the best test loss's norm marked."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=[f"{loss_name} (the L and the U)", "accuracy"])
    for series in dict.fromkeys(p.series for p in points):
        ps = [p for p in points if p.series == series]
        label = f" ({series})" if series else ""
        w = [p.weight_norm for p in ps]
        for col, (a, b) in ((1, ("train_loss", "test_loss")), (2, ("train_acc", "test_acc"))):
            fig.add_trace(go.Scatter(x=w, y=[getattr(p, a) for p in ps], mode="lines+markers", name=f"train{label}",
                                     line=dict(color="#1f77b4"), showlegend=col == 1), 1, col)
            fig.add_trace(go.Scatter(x=w, y=[getattr(p, b) for p in ps], mode="lines+markers", name=f"test{label}",
                                     line=dict(color="#d62728"), showlegend=col == 1), 1, col)
    # the two marks are often close (the U's bottom near the standard init): named in the legend, not on the plot
    marks = [(init_norm, "standard init", "#7f7f7f", "dot"), (best_norm(points), "best test loss", "#2ca02c", "dash")]
    for x, text, color, dash in marks:
        if x is not None:
            for col in (1, 2):
                fig.add_vline(x=x, line=dict(color=color, dash=dash), row=1, col=col)
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=f"{text}: w = {x:.3g}",
                                     line=dict(color=color, dash=dash)), 1, 1)
    fig.update_xaxes(type="log", title_text="weight norm w (fixed during training)")
    fig.update_yaxes(type="log", title_text=loss_name, row=1, col=1)
    fig.update_yaxes(range=[0, 1.05], title_text="accuracy", row=1, col=2)
    fig.update_layout(title=title, template=TEMPLATE, height=480)
    return fig


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


def size_figure(series: dict[str, list[tuple[int, float, float, int]]], chance: float,
                threshold: float = GENERALISED,
                title: str = "Best test accuracy within the budget against the training-set size") -> go.Figure:
    fig = go.Figure()
    for name, rows in series.items():
        crit = critical_size(rows, threshold)
        label = (name or "runs") + (f": critical size {crit}" if crit is not None else ": never generalised")
        fig.add_trace(go.Scatter(x=[r[0] for r in rows], y=[r[1] for r in rows], mode="lines+markers",
                                 name=label))
    fig.add_hline(y=chance, line=dict(color="#7f7f7f", dash="dot"), annotation_text="chance")
    fig.add_hline(y=threshold, line=dict(color="#2ca02c", dash="dash"), annotation_text=f"{threshold:g}")
    fig.update_xaxes(type="log", title_text="training examples (task.n_train)")
    fig.update_yaxes(range=[0, 1.05], title_text="best test accuracy")
    fig.update_layout(title=title, template=TEMPLATE, height=460)
    return fig


def sweep_runs(sweep, metrics: dict[str, list[dict[str, Any]]]) -> list[tuple[str, dict[str, Any], str, list]]:
    """The (name, overrides, state, metrics rows) of every run of a `grokinterp.sweep.Sweep`, from the rows
    already read (`grokinterp.report.sweep.sweep_regimes` returns them), for `lu_points` and `size_points`."""
    return [(run.name, run.overrides, sweep.state(run.name), metrics.get(run.name, [])) for run in sweep.runs]


def init_norm(cfg) -> float:
    """The total weight norm of `cfg`'s model at its standard initialisation (init scale 1)."""
    from grokinterp.models import build_model, named_tensors, weight_sq
    from grokinterp.tasks import make_task

    task = make_task(cfg.task)
    model = build_model(cfg.model, task.d_vocab, task.d_vocab_out, task.n_ctx)
    return math.sqrt(weight_sq(named_tensors(model)))
