"""The early-warning benchmark's figure for `grokinterp report SWEEP_DIR`: each measure's median lead time
against its false alarms, coloured by AUROC, from the SWEEP_DIR/early-warning.csv that
`python -m grokinterp.bench warning SWEEP_DIR` writes (`grokinterp.bench.warning`)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from grokinterp.report.figures import TEMPLATE

CSV_NAME = "early-warning.csv"


def read_scores(path: str | Path) -> list[dict[str, Any]]:
    """The rows of an early-warning CSV, numbers as floats (NaN where empty)."""
    with open(path, newline="") as f:
        return [{k: (v if k == "measure" else float(v) if v != "" else float("nan")) for k, v in row.items()}
                for row in csv.DictReader(f)]


def warning_figure(rows: list[dict[str, Any]],
                   title: str = "Early warning: median lead time against false alarms") -> go.Figure:
    """One marker per measure; measures that never led sit at lead 0, drawn hollow and named under the plot."""
    fig = go.Figure()
    led = [r["lead_median"] == r["lead_median"] for r in rows]  # not NaN
    fig.add_trace(go.Scatter(
        x=[r["false_alarms"] for r in rows], y=[r["lead_median"] if ok else 0.0 for r, ok in zip(rows, led)],
        mode="markers+text", text=[r["measure"] if ok else "" for r, ok in zip(rows, led)], textposition="top center",
        customdata=[r["measure"] for r in rows],
        marker=dict(size=12, color=[r["auroc"] for r in rows], colorscale="Viridis", cmin=0, cmax=1,
                    colorbar=dict(title="AUROC"), symbol=["circle" if ok else "circle-open" for ok in led]),
        hovertemplate="%{customdata}<br>lead %{y:.0f} steps<br>false alarms %{x}<extra></extra>"))
    never = [r["measure"] for r, ok in zip(rows, led) if not ok]
    if never:  # their labels would pile up at lead 0: listed under the plot instead
        fig.add_annotation(text="hollow, never alarmed in time: " + ", ".join(never), xref="paper", yref="paper",
                           x=0, y=-0.22, showarrow=False, align="left", font=dict(size=11))
    fig.update_xaxes(title_text="false alarms (runs that never grokked, yet alarmed)")
    fig.update_yaxes(title_text="median lead before 99% test accuracy (steps)")
    fig.update_layout(title=title, template=TEMPLATE, height=520, showlegend=False)
    return fig
