"""Power et al. 2022's data-fraction figure and table (Fig. 1 right, Fig. 2) for `grokinterp report SWEEP_DIR`;
the numbers come from `grokinterp.sweep.fractions`."""

from __future__ import annotations

import plotly.graph_objects as go

from grokinterp.report.figures import TEMPLATE
from grokinterp.sweep.fractions import THRESHOLD, SeriesPoint, SeriesSummary

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


def _errors(rows: list[SeriesPoint], lo: str, hi: str, med: str) -> tuple[list, list]:
    plus = [getattr(r, hi) - getattr(r, med) if getattr(r, med) is not None and getattr(r, hi) is not None else 0
            for r in rows]
    minus = [getattr(r, med) - getattr(r, lo) if getattr(r, med) is not None and getattr(r, lo) is not None else 0
             for r in rows]
    return plus, minus


def fraction_figure(series: dict[str, list[SeriesPoint]], threshold: float = THRESHOLD) -> go.Figure:
    """Steps to `threshold` train (dashed) and validation (solid) accuracy against the training fraction,
    log y, one colour per series: the median over seeds with min-max bars; open triangles at the budget
    mark fractions whose median run never got there."""
    fig = go.Figure()
    pct = f"{threshold * 100:g}%"
    for i, (name, rows) in enumerate(series.items()):
        color = _COLORS[i % len(_COLORS)]
        x = [r.frac * 100 for r in rows]
        for kind, dash in (("val", "solid"), ("train", "dash")):
            med = [getattr(r, f"{kind}_median") for r in rows]
            plus, minus = _errors(rows, f"{kind}_min", f"{kind}_max", f"{kind}_median")
            what = "validation" if kind == "val" else "train"
            fig.add_trace(go.Scatter(
                x=x, y=med, mode="lines+markers", name=f"{name}: {what}", legendgroup=name,
                line=dict(color=color, dash=dash), marker=dict(size=7),
                error_y=dict(type="data", array=plus, arrayminus=minus, visible=True, thickness=1),
                hovertemplate=f"{name}<br>{what}: %{{y:.0f}} steps (median) at %{{x:g}}% of the data<extra></extra>"))
            never = [r for r in rows if getattr(r, f"{kind}_median") is None]
            if never:
                fig.add_trace(go.Scatter(
                    x=[r.frac * 100 for r in never], y=[r.budget for r in never], mode="markers",
                    name=f"{name}: {what} not within the budget", legendgroup=name,
                    marker=dict(symbol="triangle-up-open", size=11, color=color),
                    hovertemplate=(f"{name}<br>{what} accuracy never reached {pct} within %{{y:.0f}} steps "
                                   "at %{x:g}% of the data<extra></extra>")))
    fig.update_xaxes(title_text="training fraction (% of all equations)")
    fig.update_yaxes(type="log", title_text=f"steps to {pct} accuracy")
    fig.update_layout(title=f"Steps to {pct} train (dashed) and validation (solid) accuracy against the training "
                            "fraction", template=TEMPLATE, height=560)
    return fig


def _pct(f: float | None) -> str:
    return "never" if f is None else f"{f * 100:g}%"


def fraction_table(summaries: list[SeriesSummary]) -> go.Figure:
    """Per series: the smallest fraction that generalised (median; any seed), the steps there, the growth per
    1% less data at the steep end, and how many runs never generalised."""
    cols = {
        "operation": [s.series for s in summaries],
        "smallest fraction (median run)": [_pct(s.min_frac) for s in summaries],
        "smallest fraction (any seed)": [_pct(s.min_frac_any) for s in summaries],
        "median steps there": ["-" if s.steps_at_min is None else f"{s.steps_at_min:.0f}" for s in summaries],
        "steps increase per 1% less data": ["-" if s.growth_per_percent is None else f"{s.growth_per_percent:+.0%}"
                                            for s in summaries],
        "runs never generalised": [str(s.never) for s in summaries],
    }
    fig = go.Figure(go.Table(header=dict(values=list(cols), align="left", fill_color="#eeeeee"),
                             cells=dict(values=list(cols.values()), align="left")))
    fig.update_layout(title="Smallest training fraction that generalised, per operation", template=TEMPLATE,
                      height=min(900, 140 + 28 * len(summaries)), margin=dict(l=10, r=10, b=10))
    return fig
