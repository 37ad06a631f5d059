"""The report of a sweep directory (`grokinterp report SWEEP_DIR`): a phase diagram (Liu et al.'s name for the
grid of regimes), a table of the runs and the test accuracy of every run, as one self-contained HTML file
(SWEEP_DIR/report.html). The regimes come from `grokinterp.sweep.regimes`.

Figures (plotly, in the style of `grokinterp.report.figures`): `regime_diagram`, `runs_table`,
`accuracy_curves`, `best_accuracy_bars`; `build_sweep_report` writes the page. A sweep over `task.frac_train`
also gets Power et al.'s data-fraction figure and table (`grokinterp.report.fractions`); one over
`accel.weight_norm` Omnigrok's LU landscape, one over `task.n_train` the critical training-set size
(`grokinterp.report.omnigrok`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from grokinterp.analysis.regimes import REGIMES
from grokinterp.report import warning
from grokinterp.report.figures import LOSS_NAMES, TEMPLATE
from grokinterp.report.fractions import fraction_figure, fraction_table
from grokinterp.report.html import Section, render_html
from grokinterp.report.omnigrok import lu_figure, size_figure
from grokinterp.report.ungrokking import ungrokking_figure
from grokinterp.sweep import format_value, fractions, load_sweep, omnigrok, ungrokking
from grokinterp.sweep.regimes import LABELS, RegimeGrid, RunRegime, regime_grid, sweep_regimes

#: Cell colour of each regime, and of runs without one.
REGIME_COLORS: dict[str, str] = {
    "comprehension": "#2ca02c",
    "grokking": "#1f77b4",
    "memorization": "#ff7f0e",
    "confusion": "#d62728",
    "failed": "#7f7f7f",
    "unfinished": "#d9d9d9",
}


MAX_CURVE_POINTS = 400


def _step(s: int | None) -> str:
    return "-" if s is None else str(s)


def regime_diagram(grid: RegimeGrid, title: str = "Phase diagram") -> go.Figure:
    """A categorical heatmap of the grid, each cell coloured by its regime (Liu et al. 2022, Fig. 6), with
    the regime written in it, a legend of the regimes and the run name, t_train and t_test on hover."""
    code = {label: i for i, label in enumerate(LABELS)}
    n = len(LABELS)
    colorscale = []
    for i, label in enumerate(LABELS):  # one flat band of colour per code
        colorscale += [[i / n, REGIME_COLORS[label]], [(i + 1) / n, REGIME_COLORS[label]]]
    z, text, hover = [], [], []
    for row in grid.cells:
        z.append([np.nan if c is None else code[c.label] for c in row])
        text.append(["" if c is None else c.label for c in row])
        hover.append(["no run" if c is None else f"{c.name}<br>regime: {c.label}<br>t_train: {_step(c.t_train)}"
                      f"<br>t_test: {_step(c.t_test)}" for c in row])
    x = [format_value(v) for v in grid.x_values]
    y = [format_value(v) for v in grid.y_values]
    fig = go.Figure(go.Heatmap(z=z, x=x, y=y, text=text, texttemplate="%{text}", hovertext=hover,
                               hoverinfo="text", colorscale=colorscale, zmin=-0.5, zmax=n - 0.5,
                               showscale=False, xgap=2, ygap=2))
    present = {c.label for row in grid.cells for c in row if c is not None}
    for label in LABELS:  # heatmaps have no legend: one invisible marker trace per regime makes it
        if label in REGIMES or label in present:
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=label, showlegend=True,
                                     marker=dict(size=12, symbol="square", color=REGIME_COLORS[label])))
    fig.update_xaxes(type="category", title_text=grid.x_key)
    fig.update_yaxes(type="category", title_text=grid.y_key)
    fig.update_layout(title=title, template=TEMPLATE, height=max(360, 120 + 60 * len(y)))
    return fig


def _translucent(hex_color: str, alpha: float = 0.3) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def runs_table(runs: list[RunRegime]) -> go.Figure:
    """Every run: name, overrides, state, regime, t_train, t_test and its final accuracies."""
    def acc(r: RunRegime, key: str) -> str:
        return f"{r.final[key]:.4f}" if r.final and key in r.final else "-"

    columns = {
        "run": [r.name for r in runs],
        "overrides": [", ".join(f"{k}={format_value(v)}" for k, v in r.overrides.items()) or "-" for r in runs],
        "state": [r.state for r in runs],
        "regime": [r.regime or "-" for r in runs],
        "t_train": [_step(r.t_train) for r in runs],
        "t_test": [_step(r.t_test) for r in runs],
        "final step": [str(r.final["step"]) if r.final else "-" for r in runs],
        "train acc": [acc(r, "train_acc") for r in runs],
        "test acc": [acc(r, "test_acc") for r in runs],
    }
    fills = [[_translucent(REGIME_COLORS[r.label]) for r in runs]]  # the run column in its regime's colour
    fig = go.Figure(go.Table(
        header=dict(values=list(columns), align="left", fill_color="#eeeeee", height=26),
        cells=dict(values=list(columns.values()), align="left", fill_color=fills + [["white"] * len(runs)] * 8,
                   height=24),
        columnwidth=[3, 4, 1.2, 1.6, 1, 1, 1, 1, 1],
    ))
    fig.update_layout(title="Runs", template=TEMPLATE, height=min(1200, 130 + 24 * len(runs)),
                      margin=dict(l=10, r=10, b=10))
    return fig


def accuracy_curves(curves: list[tuple[str, Any, Any]], title: str = "Test accuracy of every run") -> go.Figure:
    """Test accuracy against step, one line per run: `curves` is [(name, steps, test_acc)] (each curve
    thinned to at most MAX_CURVE_POINTS points)."""
    fig = go.Figure()
    for name, steps, values in curves:
        x, y = np.asarray(steps), np.asarray(values)
        stride = max(1, int(np.ceil(len(x) / MAX_CURVE_POINTS)))
        keep = np.r_[np.arange(0, len(x), stride), len(x) - 1] if len(x) else np.arange(0)
        keep = np.unique(keep)
        fig.add_trace(go.Scatter(x=x[keep], y=y[keep], mode="lines", name=name))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.05])
    fig.update_layout(title=title, template=TEMPLATE, height=460)
    return fig


def best_accuracy_bars(runs: list[RunRegime], metrics: dict[str, list[dict[str, Any]]],
                       title: str = "Best test accuracy within the budget") -> go.Figure:
    """One bar per run: its best logged test accuracy, with its final one as a marker (Power et al. 2022,
    Fig. 4: the regularisers compared by best validation accuracy within 10^5 steps)."""
    names = [r.name for r in runs]
    best = [max((m["test_acc"] for m in metrics.get(r.name, []) if "test_acc" in m), default=0.0) for r in runs]
    final = [r.final["test_acc"] if r.final and "test_acc" in r.final else None for r in runs]
    fig = go.Figure([go.Bar(x=names, y=best, name="best", marker_color="#1f77b4",
                            text=[f"{b:.3f}" for b in best], textposition="outside"),
                     go.Scatter(x=names, y=final, mode="markers", name="final", marker=dict(color="#d62728", size=9))])
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.1])
    fig.update_layout(title=title, template=TEMPLATE, height=460)
    return fig


def _varies(spec, key: str) -> bool:
    return key in spec.grid or any(key in r for r in spec.runs)


def omnigrok_sections(sweep, metrics: dict[str, list[dict[str, Any]]]) -> list[Section]:
    """The LU landscape of a sweep over `accel.weight_norm` and the critical-size figure of one over
    `task.n_train` (`grokinterp.report.omnigrok`), from every run's metrics rows (as `sweep_regimes` reads them)."""
    spec, out = sweep.spec, []
    runs = omnigrok.sweep_runs(sweep, metrics)
    if _varies(spec, omnigrok.NORM_KEY):
        points = omnigrok.lu_points(runs)
        cfg = sweep.runs[0].config
        w0 = omnigrok.init_norm(cfg)
        best = omnigrok.best_norm(points)
        loss = LOSS_NAMES[cfg.train.loss]
        out.append(Section("LU: loss against the weight norm", [lu_figure(points, w0, loss)], text=(
            "Omnigrok (Liu et al. 2023, Fig. 2): each run trains at a fixed total weight norm w (all parameters "
            "rescaled to w after every step); the final train loss against w should look like an L and the test "
            f"loss like a U. Standard initialisation (init scale 1): w = {w0:.3g}"
            + (f"; lowest test loss at w = {best:.3g} ({best / w0:.2f} x the standard init)." if best else ".")
            + f" {len(points)} finished run(s).")))
    if _varies(spec, omnigrok.SIZE_KEY):
        points = omnigrok.size_points(runs)
        series = omnigrok.size_series(points)
        chance = 1 / sweep.runs[0].config.task.n_answers
        crit = {name or "runs": omnigrok.critical_size(rows) for name, rows in series.items()}
        out.append(Section("Critical training-set size", [size_figure(series, chance)], text=(
            "Omnigrok (Liu et al. 2023, Sec. 4): below a critical training-set size (about 200 MNIST images in "
            "the paper) test accuracy stays near chance within the budget. Median over seeds of each run's best "
            f"test accuracy; the critical size is the smallest from which on it reaches {omnigrok.GENERALISED:g}: "
            + "; ".join(f"{k}: {v if v is not None else 'none'}" for k, v in crit.items()) + ".")))
    return out


def build_sweep_report(sweep_dir: str | Path, out: str | Path | None = None, *, threshold: float = 0.9,
                       gap: int = 1000) -> Path:
    """Write the HTML report of the sweep at `sweep_dir` (default file: SWEEP_DIR/report.html)."""
    from grokinterp.runs.store import atomic_write_bytes

    sweep = load_sweep(sweep_dir)
    runs, metrics = sweep_regimes(sweep, threshold=threshold, gap=gap)
    spec = sweep.spec
    sections: list[Section] = []
    axes = list(spec.grid)
    if len(axes) == 2 and len(spec.runs) <= 1:
        grid = regime_grid(runs, axes[0], spec.grid[axes[0]], axes[1], spec.grid[axes[1]])
        sections.append(Section("Phase diagram", [regime_diagram(grid)], text=(
            f"Each cell is one run, coloured by its regime (Liu et al. 2022): with t_train, t_test the first "
            f"steps at which train / test accuracy reach {threshold:g}, comprehension if t_test - t_train < "
            f"{gap}, grokking if not, memorization if only train accuracy reached it, confusion if train "
            f"accuracy did not. Grey: failed or unfinished runs.")))
    elif len(axes) > 2:
        sections.append(Section("Phase diagram", text=f"The grid has {len(axes)} axes; a phase diagram needs "
                                                      "exactly two."))
    continued = ungrokking.is_continuation(sweep)
    if continued and _varies(spec, fractions.FRACTION_KEY):
        rows = ungrokking.ungrokking_table(ungrokking.sweep_ungrokking_runs(sweep))
        crit = ungrokking.d_crit(rows)
        sections.append(Section("Ungrokking: test accuracy after training on less data", [
            ungrokking_figure(rows, crit)], text=(
            "Varma et al. 2023: a grokked network (train.init_from) trained further on a subset of its training "
            "data loses its test accuracy when the subset is below a critical size D_crit. Before: test accuracy "
            "at step 0 (the source's weights on each run's test split); after: at the run's last logged step. "
            + (f"The final accuracy crosses 50% at a training fraction of about {crit:.3g}."
               if crit is not None else "No two neighbouring fractions straddle 50% final test accuracy."))))
    elif _varies(spec, fractions.FRACTION_KEY):
        points = fractions.sweep_fraction_points(sweep)
        series = fractions.fraction_series(points)
        left_out = sum(not p.counted for p in points)
        sections.append(Section("Steps to 99% accuracy against the training fraction", [
            fraction_figure(series), fraction_table(fractions.series_summary(series))], text=(
            "Power et al. 2022, Fig. 1 right: per operation, the first logged step at which train and validation "
            "accuracy reach 99%, median over seeds with min-max bars. Open triangles at the step budget: the "
            "median run never got there. The table orders the operations by the smallest fraction that "
            "generalised; the growth compares the two smallest such fractions, against Power et al.'s 40-50% "
            "more steps per 1% less data near 25-30%."
            + (f" {left_out} run(s) not yet ended (failed, interrupted or unfinished, and not at 99%) are left out."
               if left_out else ""))))
    sections += omnigrok_sections(sweep, metrics)
    scores = sweep.path / warning.CSV_NAME
    if scores.exists():
        rows = warning.read_scores(scores)
        sections.append(Section("Early warning: which measure sees grokking coming", [warning.warning_figure(rows)],
                                text=(
            "From `python -m grokinterp.bench warning` (docs/results.md): every measure scored with one alarm rule "
            "calibrated leave-one-run-out; lead = steps from the alarm to 99% test accuracy (median over the runs "
            "alarmed in time), false alarms = runs that never grokked within the budget yet raised the alarm, "
            "colour = AUROC of 'will it grok' from the measure early in the run. Best AUROC: "
            + ", ".join(f"{r['measure']} {r['auroc']:.2f}" for r in rows[:3]) + ".")))
    sections.append(Section("Runs", [runs_table(runs)]))
    curves = [(r.name, [m["step"] for m in rows if "test_acc" in m], [m["test_acc"] for m in rows if "test_acc" in m])
              for r in runs if (rows := metrics[r.name])]
    if curves:
        sections.append(Section("Test accuracy", [accuracy_curves(curves), best_accuracy_bars(runs, metrics)]))
    counts = {label: sum(1 for r in runs if r.label == label) for label in LABELS}
    header = [
        ("sweep", str(sweep.path)),
        ("preset", spec.preset),
        ("set", ", ".join(f"{k}={format_value(v)}" for k, v in spec.set.items()) or "-"),
        ("grid", "; ".join(f"{k}: {', '.join(format_value(v) for v in vs)}" for k, vs in spec.grid.items()) or "-"),
        ("runs", f"{len(runs)}: " + ", ".join(f"{n} {label}" for label, n in counts.items() if n)),
        ("regimes", f"accuracy threshold {threshold:g}, gap {gap} steps"),
    ]
    page = render_html(f"grokinterp sweep report: {sweep.path.name}", header, sections)
    out = Path(out) if out else sweep.path / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, page.encode())
    return out
