"""Omnigrok's sweep figures (Liu, Michaud & Tegmark 2023): the LU landscape (`lu_figure`) and the critical
training-set size (`size_figure`), for `grokinterp report SWEEP_DIR`; the numbers come from
`grokinterp.sweep.omnigrok`."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from grokinterp.report.figures import TEMPLATE
from grokinterp.sweep.omnigrok import GENERALISED, LUPoint, best_norm, critical_size


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
