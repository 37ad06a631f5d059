"""Varma et al. 2023's ungrokking figure for `grokinterp report SWEEP_DIR` (a sweep of runs that continue a
grokked run at several training fractions); the numbers come from `grokinterp.sweep.ungrokking`."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from grokinterp.report.figures import TEMPLATE


def ungrokking_figure(rows: list[dict[str, Any]], d_crit: float | None,
                      title: str = "Test accuracy before and after training on less data") -> go.Figure:
    """Test accuracy at the start (the grokked source's weights) and at the end of each continuation against its
    training fraction, with the estimated critical fraction marked."""
    fig = go.Figure()
    x = [r["frac_train"] * 100 for r in rows]
    fig.add_trace(go.Scatter(x=x, y=[r["test_acc_before"] for r in rows], mode="lines+markers",
                             name="before (the grokked weights)", line=dict(color="#7f7f7f", dash="dot")))
    fig.add_trace(go.Scatter(x=x, y=[r["test_acc_after"] for r in rows], mode="lines+markers",
                             name="after training on this fraction", line=dict(color="#d62728")))
    if d_crit is not None:
        fig.add_vline(x=d_crit * 100, line=dict(color="#2ca02c", dash="dash"),
                      annotation_text=f"D_crit ~ {d_crit * 100:.3g}%")
    fig.update_xaxes(title_text="training fraction (% of all pairs, a subset of the source's)")
    fig.update_yaxes(range=[0, 1.05], title_text="test accuracy")
    fig.update_layout(title=title, template=TEMPLATE, height=460)
    return fig
