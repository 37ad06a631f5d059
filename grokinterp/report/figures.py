"""Plotly figures for grokking reports: pure functions, data in, `plotly.graph_objects.Figure` out.

Every function takes torch tensors, numpy arrays or lists (converted with `_np`), does at most light reshaping,
and returns a figure with a title, axis titles and the "plotly_white" template. Nothing here does file I/O,
touches a model or computes an analysis; the numbers come from `grokinterp.analysis.fourier` and
`grokinterp.progress`. References are to Nanda et al. 2023, "Progress measures for grokking via mechanistic
interpretability" (arXiv:2301.05217).

- `loss_curves`: train/test loss (log y) and accuracy against step, with the phase boundaries as dashed
  vertical lines; the grokking curve of Fig 2 (left) / Power et al. 2022.
- `fourier_norms`: norm of W_E (Fig 3a) or of the neuron-logit map W_L (Fig 5a) per Fourier component
  (const, cos k, sin k): sparse, a few key frequencies.
- `attention_heatmaps`: attention from the '=' token to a, per head, over (a, b) (Fig 3b, left; periodic).
- `neuron_heatmaps`: MLP neuron activations over (a, b) (Fig 3b, right): periodic in a + b.
- `fourier_2d_heatmap`: norms of the logits (or of activations) in the 2-D Fourier basis, indexed
  [component of a, component of b] (Fig 4a): mass on a few (cos k, cos k)/(sin k, sin k) terms.
- `variance_explained_histogram`: per neuron, the fraction of its (centred) variance explained by its best
  single frequency (Fig 4c): most neurons near 1.
- `neuron_cluster_bars`: number of neurons per frequency cluster (Fig 4b / appendix; key -1 = unclustered).
- `progress_measures`: the four progress-measure panels of Figs 6/7: excluded loss and restricted loss, each
  with train/test loss (log y), the Gini coefficients of the Fourier norms of W_E and W_L, and the sum of
  squared weights, all against step with phase lines.
- `embedding_pca`: the embedding W_E projected on its top principal components, points labelled by number
  and joined in number order; the circles of Liu et al. 2022 ("Towards understanding grokking") and
  Power et al. 2022 (each key frequency k puts 0..p-1 on a circle, visited in steps of k).
- `key_frequency_lines`: per-frequency embedding norm over checkpoints for the key frequencies (the
  emergence of the key frequencies during circuit formation, cf. Fig 7 / the Grokking_Analysis notebook).

Permutation groups (numbers from `grokinterp.analysis.groups` / `irreps`):
- `coset_scatter`: 2-D projection (t-SNE) of the output-layer rows of S_n coloured by a coset partition
  (Power et al. 2022, Fig 6); `partition_table`: the ranked coset partitions with pseudo-F and p-values.
- `irrep_fraction_lines` / `irrep_fraction_bars`: fraction of W_E / W_U / W_L in each irrep, over training
  or at one step; `irrep_similarity_lines`: logit similarity with each irrep's character cube (Chughtai et
  al. 2023).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TEMPLATE = "plotly_white"
MAX_HEADS = 8

#: Colour of each phase boundary line (keys of `grokinterp.progress.Phases.as_dict`); others use the default.
PHASE_COLORS: dict[str, str] = {
    "memorization_end": "#d62728",
    "circuit_formation_end": "#2ca02c",
    "cleanup_end": "#9467bd",
}
_DEFAULT_PHASE_COLOR = "#7f7f7f"
_COS, _SIN, _CONST = "#1f77b4", "#ff7f0e", "#7f7f7f"


def _np(x: Any) -> np.ndarray:
    """A numpy array from a torch tensor (detached, on CPU), numpy array, list or scalar."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _add_phase_lines(fig: go.Figure, phases: dict[str, int | None] | None, rows_cols: list[tuple[int, int]]) -> None:
    """A dashed vertical line at every non-None phase boundary, on each subplot (row, col), labelled with its key.

    The label is drawn on the first subplot only, to keep the others uncluttered.
    """
    if not phases:
        return
    drawn = 0
    for name, step in phases.items():
        if step is None:
            continue
        color = PHASE_COLORS.get(name, _DEFAULT_PHASE_COLOR)
        for i, (row, col) in enumerate(rows_cols):
            # labels of nearby boundaries would overlap: stack them downwards, right of their line
            kw = dict(annotation_text=name, annotation_position="top right", annotation_font_size=10,
                      annotation_font_color=color, annotation=dict(yshift=-14 * drawn)) if i == 0 else {}
            fig.add_vline(x=step, line_dash="dash", line_color=color, line_width=1, row=row, col=col, **kw)
        drawn += 1


def _finish(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(title=title, template=TEMPLATE, height=height)
    return fig


def _grid(n: int, max_cols: int = 4) -> tuple[int, int]:
    cols = min(n, max_cols)
    return (n + cols - 1) // cols, cols


# ------------------------------------------------------------------------------------------- training curves


#: The y-axis name of each `train.loss`.
LOSS_NAMES = {"ce": "cross-entropy loss", "mse": "squared error", "stablemax": "StableMax cross-entropy"}


def loss_curves(steps, train_loss, test_loss, train_acc, test_acc,
                phases: dict[str, int | None] | None = None, loss_name: str = LOSS_NAMES["ce"]) -> go.Figure:
    """Train/test loss (log y) and accuracy against step, with phase boundaries (Nanda et al. Fig 2)."""
    x = _np(steps)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    fig.add_trace(go.Scatter(x=x, y=_np(train_loss), mode="lines", name="train loss", line_color=_COS), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=_np(test_loss), mode="lines", name="test loss", line_color=_SIN), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=_np(train_acc), mode="lines", name="train acc", line_color=_COS,
                             line_dash="dot"), 1, 2)
    fig.add_trace(go.Scatter(x=x, y=_np(test_acc), mode="lines", name="test acc", line_color=_SIN,
                             line_dash="dot"), 1, 2)
    fig.update_yaxes(type="log", title_text=loss_name, row=1, col=1)
    fig.update_yaxes(title_text="accuracy", range=[0, 1.05], row=1, col=2)
    fig.update_xaxes(title_text="step")
    _add_phase_lines(fig, phases, [(1, 1), (1, 2)])
    return _finish(fig, "Loss and accuracy over training", 420)


def progress_measures(columns: dict[str, Any], phases: dict[str, int | None] | None = None) -> go.Figure:
    """The progress measures of Nanda et al. Figs 6/7 in a 2x2 grid, from the columns of
    `grokinterp.progress.measures`."""
    x = _np(columns["step"])
    fig = make_subplots(rows=2, cols=2, subplot_titles=(
        "Excluded loss", "Restricted loss", "Gini coefficient of Fourier norms", "Sum of squared weights"))

    def line(name: str, row: int, col: int, color: str, label: str | None = None, dash: str | None = None) -> None:
        fig.add_trace(go.Scatter(x=x, y=_np(columns[name]), mode="lines", name=label or name, line_color=color,
                                 line_dash=dash, legendgroup=name), row, col)

    line("excluded_loss", 1, 1, "#2ca02c", "excluded loss")
    line("train_loss", 1, 1, _COS, "train loss", "dot")
    line("test_loss", 1, 1, _SIN, "test loss", "dot")
    line("restricted_loss", 1, 2, "#9467bd", "restricted loss")
    line("train_loss", 1, 2, _COS, "train loss", "dot")
    line("test_loss", 1, 2, _SIN, "test loss", "dot")
    line("gini_W_E", 2, 1, "#17becf", "Gini(W_E)")
    line("gini_W_L", 2, 1, "#bcbd22", "Gini(W_L)")
    line("weight_sq", 2, 2, "#8c564b", "sum of squared weights")
    # The train/test loss traces appear twice; show each in the legend once.
    seen: set[str] = set()
    for tr in fig.data:
        tr.showlegend = tr.name not in seen
        seen.add(tr.name)
    fig.update_yaxes(type="log", title_text="loss", row=1, col=1)
    fig.update_yaxes(type="log", title_text="loss", row=1, col=2)
    fig.update_yaxes(title_text="Gini", row=2, col=1)
    fig.update_yaxes(title_text="sum of squared weights", row=2, col=2)
    fig.update_xaxes(title_text="step")
    _add_phase_lines(fig, phases, [(1, 1), (1, 2), (2, 1), (2, 2)])
    return _finish(fig, "Progress measures over training", 760)


def key_frequency_lines(steps, freq_norms, freqs: list[int],
                        title: str = "Embedding norm per key frequency over training") -> go.Figure:
    """One line per frequency k in `freqs`: column k-1 of `freq_norms` (n_ckpt, n_freq) against step."""
    x, norms = _np(steps), _np(freq_norms)
    fig = go.Figure()
    for k in freqs:
        fig.add_trace(go.Scatter(x=x, y=norms[:, int(k) - 1], mode="lines", name=f"freq {int(k)}"))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="norm of W_E at frequency k")
    return _finish(fig, title, 420)


# ------------------------------------------------------------------------------------------- Fourier views


def fourier_norms(norms, labels: list[str], title: str) -> go.Figure:
    """Bar chart of per-component norms, cos bars / sin bars / the constant in three colours (Figs 3a, 5a)."""
    y = _np(norms).reshape(-1)
    if len(labels) != len(y):
        raise ValueError(f"{len(labels)} labels for {len(y)} norms")
    fig = go.Figure()
    for kind, color in (("const", _CONST), ("cos", _COS), ("sin", _SIN)):
        idx = [i for i, lab in enumerate(labels) if (lab.split()[0] if kind != "const" else lab) == kind]
        if idx:
            fig.add_trace(go.Bar(x=[labels[i] for i in idx], y=y[idx], name=kind, marker_color=color))
    other = [i for i, lab in enumerate(labels) if lab != "const" and lab.split()[0] not in ("cos", "sin")]
    if other:
        fig.add_trace(go.Bar(x=[labels[i] for i in other], y=y[other], name="other", marker_color=_CONST))
    fig.update_xaxes(title_text="Fourier component", categoryorder="array", categoryarray=list(labels))
    fig.update_yaxes(title_text="norm")
    fig.update_layout(barmode="overlay", bargap=0.1)
    return _finish(fig, title, 400)


def fourier_2d_heatmap(norms, labels: list[str], title: str = "Logits in the 2-D Fourier basis") -> go.Figure:
    """Heatmap of (p, p) norms indexed [component of a, component of b] (Fig 4a)."""
    z = _np(norms)
    fig = go.Figure(go.Heatmap(z=z, x=list(labels), y=list(labels), colorscale="Blues", colorbar_title="norm"))
    fig.update_xaxes(title_text="Fourier component of b")
    fig.update_yaxes(title_text="Fourier component of a", autorange="reversed")
    return _finish(fig, title, 640)


# ------------------------------------------------------------------------------------------- per-head / neuron


def _heatmap_grid(grids: np.ndarray, names: list[str], title: str, colorscale: str) -> go.Figure:
    """One (p, p) heatmap subplot per grid, y = a, x = b, sharing one colour scale."""
    rows, cols = _grid(len(grids))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, horizontal_spacing=0.05, vertical_spacing=0.1)
    zmin, zmax = float(grids.min()), float(grids.max())
    for i, g in enumerate(grids):
        fig.add_trace(go.Heatmap(z=g, colorscale=colorscale, zmin=zmin, zmax=zmax, showscale=i == 0,
                                 name=names[i]), i // cols + 1, i % cols + 1)
    fig.update_xaxes(title_text="b")
    fig.update_yaxes(title_text="a", autorange="reversed")
    return _finish(fig, title, 300 * rows + 80)


def attention_heatmaps(pattern, title: str = "Attention from '=' to a, per head") -> go.Figure:
    """pattern (n_heads, p, p) indexed [head, a, b]: one heatmap per head, at most 8 (Fig 3b, left)."""
    pat = _np(pattern)[:MAX_HEADS]
    return _heatmap_grid(pat, [f"head {h}" for h in range(len(pat))], title, "Viridis")


def neuron_heatmaps(acts, neuron_ids: list[int],
                    title: str = "MLP neuron activations over (a, b)") -> go.Figure:
    """acts (n, p, p): one heatmap per neuron, titled with its id (Fig 3b, right)."""
    a = _np(acts)
    if len(neuron_ids) != len(a):
        raise ValueError(f"{len(neuron_ids)} neuron ids for {len(a)} activation grids")
    return _heatmap_grid(a, [f"neuron {int(n)}" for n in neuron_ids], title, "RdBu_r")


def variance_explained_histogram(
        frac, bins: int = 20,
        title: str = "Fraction of each neuron's variance explained by its best frequency") -> go.Figure:
    """Histogram over neurons of the fraction of variance explained, on [0, 1] in `bins` bins (Fig 4c)."""
    f = _np(frac).reshape(-1)
    fig = go.Figure(go.Histogram(x=f, xbins=dict(start=0.0, end=1.0, size=1.0 / bins), autobinx=False,
                                 marker_color=_COS, name="neurons"))
    fig.update_xaxes(title_text="fraction of variance explained", range=[0, 1])
    fig.update_yaxes(title_text="number of neurons")
    return _finish(fig, title, 400)


def neuron_cluster_bars(sizes: dict[int, int], title: str = "Neurons per frequency cluster") -> go.Figure:
    """Bars of neuron count per frequency cluster; key -1 (unclustered) is labelled "none" and put last."""
    keys = sorted((k for k in sizes if k != -1), key=int) + ([-1] if -1 in sizes else [])
    labels = ["none" if k == -1 else str(int(k)) for k in keys]
    colors = [_CONST if k == -1 else _COS for k in keys]
    fig = go.Figure(go.Bar(x=labels, y=[int(sizes[k]) for k in keys], marker_color=colors, name="neurons"))
    fig.update_xaxes(title_text="frequency", type="category")
    fig.update_yaxes(title_text="number of neurons")
    return _finish(fig, title, 400)


# ------------------------------------------------------------------------------------------- embedding


def embedding_pca(W_E, n_components: int = 4,
                  title: str = "Embedding on its top principal components") -> go.Figure:
    """Rows of W_E (p, d_model) on PC1/PC2 and PC3/PC4 (as available), labelled and joined in number order.

    Subplot titles give each component's explained-variance ratio.
    """
    W = _np(W_E).astype(np.float64)
    p = W.shape[0]
    X = W - W.mean(axis=0, keepdims=True)
    U, S, _ = np.linalg.svd(X, full_matrices=False)
    var = S ** 2
    ratio = var / var.sum() if var.sum() > 0 else np.zeros_like(var)
    n = max(2, min(n_components, len(S)))
    n -= n % 2
    proj = U[:, :n] * S[:n]
    pairs = [(i, i + 1) for i in range(0, n, 2)]
    titles = [f"PC{i + 1} ({ratio[i]:.1%}) vs PC{j + 1} ({ratio[j]:.1%})" for i, j in pairs]
    fig = make_subplots(rows=1, cols=len(pairs), subplot_titles=titles)
    nums = np.arange(p)
    for c, (i, j) in enumerate(pairs, start=1):
        fig.add_trace(go.Scatter(
            x=proj[:, i], y=proj[:, j], mode="lines+markers+text", text=[str(v) for v in nums],
            textposition="top center", line=dict(color="lightgray", width=1),
            marker=dict(color=nums, colorscale="Viridis", size=8, showscale=c == 1, colorbar_title="number"),
            name=f"PC{i + 1}/PC{j + 1}", showlegend=False), 1, c)
        fig.update_xaxes(title_text=f"PC{i + 1}", row=1, col=c)
        fig.update_yaxes(title_text=f"PC{j + 1}", scaleanchor=f"x{'' if c == 1 else c}", row=1, col=c)
    return _finish(fig, title, 480)


# ------------------------------------------------------------------------------------ permutation groups


def coset_scatter(coords, labels, hover: list[str], title: str) -> go.Figure:
    """Points in 2-D (e.g. t-SNE of the output-layer rows of S5), one colour per coset (Power et al. Fig 6)."""
    xy, lab = _np(coords), _np(labels).astype(int)
    fig = go.Figure()
    for b in np.unique(lab):
        m = lab == b
        fig.add_trace(go.Scatter(x=xy[m, 0], y=xy[m, 1], mode="markers", name=f"coset {b}",
                                 text=[hover[i] for i in np.flatnonzero(m)], marker_size=9))
    fig.update_xaxes(title_text="dim 1")
    fig.update_yaxes(title_text="dim 2", scaleanchor="x")
    return _finish(fig, title, 560)


def partition_table(rows: list[dict], title: str) -> go.Figure:
    """A table of ranked coset partitions (dicts from `PartitionScore.as_dict`)."""
    cols = ["rank", "name", "order", "index", "side", "generators", "pseudo_f", "p_value", "p_raw", "eta2_adj",
            "ari", "purity"]

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}"
        if isinstance(v, list):
            return ", ".join(v)
        return str(v)

    cells = [[fmt(i + 1) for i in range(len(rows))]] + [[fmt(r[c]) for r in rows] for c in cols[1:]]
    fig = go.Figure(go.Table(header={"values": cols, "align": "left"}, cells={"values": cells, "align": "left"},
                             columnwidth=[4, 5, 5, 5, 5, 22, 8, 7, 7, 7, 6, 6]))
    return _finish(fig, title, 80 + 28 * (len(rows) + 1))


def irrep_fraction_lines(steps, fractions: dict[str, dict[str, Any]], phases: dict[str, int | None] | None = None,
                         title: str = "Fraction of each weight matrix in each irrep over training") -> go.Figure:
    """One panel per matrix (e.g. W_E, W_U): the fraction of its squared norm in each irrep against step."""
    x = _np(steps)
    names = list(fractions)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, shared_yaxes=True)
    palette = ["#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
               "#17becf", "#bcbd22", "#aec7e8"]
    for j, mat in enumerate(names):
        for i, (irrep, ys) in enumerate(fractions[mat].items()):
            fig.add_trace(go.Scatter(x=x, y=_np(ys), mode="lines", name=irrep, legendgroup=irrep,
                                     showlegend=j == 0, line_color=palette[i % len(palette)]), 1, j + 1)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="fraction of squared norm", range=[0, 1.02], row=1, col=1)
    _add_phase_lines(fig, phases, [(1, j + 1) for j in range(len(names))])
    return _finish(fig, title, 420)


def irrep_similarity_lines(steps, similarity: dict[str, Any], phases: dict[str, int | None] | None = None,
                           title: str = "Logit similarity with each irrep's character cube") -> go.Figure:
    """Cosine similarity of the centred logits with chi_rho(t c^-1) per irrep, against step (Chughtai et al.)."""
    x = _np(steps)
    fig = make_subplots(rows=1, cols=1)
    for irrep, ys in similarity.items():
        if irrep != "trivial":
            fig.add_trace(go.Scatter(x=x, y=_np(ys), mode="lines", name=irrep), 1, 1)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="cosine similarity")
    _add_phase_lines(fig, phases, [(1, 1)])
    return _finish(fig, title, 420)


def irrep_fraction_bars(fractions: dict[str, dict[str, float]], title: str) -> go.Figure:
    """Grouped bars: for each matrix (e.g. W_E, W_U, W_L), the fraction of its squared norm in each irrep."""
    fig = go.Figure()
    for name, fr in fractions.items():
        fig.add_trace(go.Bar(x=list(fr), y=list(fr.values()), name=name))
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="irrep")
    fig.update_yaxes(title_text="fraction of squared norm")
    return _finish(fig, title, 400)


# ------------------------------------------------------------------------------------- phase changes


def _transition_lines(fig: go.Figure, transitions: dict[str, Any], row: int = 1, col: int = 1) -> None:
    """A dotted vertical line at each detected transition step (`Transition` objects or dicts), labelled."""
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    for i, (name, t) in enumerate(transitions.items()):
        if t is None:
            continue
        step = t["step"] if isinstance(t, dict) else t.step
        color = palette[i % len(palette)]
        fig.add_vline(x=step, line_dash="dot", line_color=color, line_width=1, row=row, col=col,
                      annotation_text=name, annotation_position="top right", annotation_font_size=10,
                      annotation_font_color=color, annotation=dict(yshift=-14 * i))


def per_position_losses(steps, losses, names: list[str], transitions: list | None = None,
                        title: str = "Test loss per answer digit") -> go.Figure:
    """One loss curve per answer position (log y) with each one's detected phase change (Nanda 2022)."""
    x, y = _np(steps), _np(losses)
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    fig = make_subplots(rows=1, cols=1)
    for j, name in enumerate(names):
        fig.add_trace(go.Scatter(x=x, y=y[:, j], mode="lines", name=name, line_color=palette[j % len(palette)]), 1, 1)
    if transitions:
        _transition_lines(fig, {n: t for n, t in zip(names, transitions)})
    fig.update_yaxes(type="log", title_text="cross-entropy loss")
    fig.update_xaxes(title_text="step")
    return _finish(fig, title, 460)


def head_score_lines(steps, scores, loss_steps=None, loss=None, transition=None,
                     title: str = "Induction score per head over training") -> go.Figure:
    """Each head's score (scores: [n_steps, n_layers, n_heads]) against step, with the loss on a second axis."""
    x, s = _np(steps), _np(scores)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for layer in range(s.shape[1]):
        for head in range(s.shape[2]):
            fig.add_trace(go.Scatter(x=x, y=s[:, layer, head], mode="lines", name=f"L{layer}H{head}"),
                          secondary_y=False)
    if loss is not None:
        fig.add_trace(go.Scatter(x=_np(loss_steps), y=_np(loss), mode="lines", name="test loss",
                                 line=dict(color="black", dash="dash")), secondary_y=True)
        fig.update_yaxes(type="log", title_text="test loss", secondary_y=True)
    if transition is not None:
        _transition_lines(fig, {"induction score jump": transition})
    fig.update_yaxes(title_text="score", secondary_y=False)
    fig.update_xaxes(title_text="step")
    return _finish(fig, title, 460)


def attention_pattern(pattern, title: str, tokens=None) -> go.Figure:
    """One head's attention pattern (query x key) on one sequence."""
    a = _np(pattern)
    labels = None if tokens is None else [f"{i}:{t}" for i, t in enumerate(_np(tokens).tolist())]
    fig = go.Figure(go.Heatmap(z=a, x=labels, y=labels, colorscale="Blues", zmin=0, zmax=1))
    fig.update_yaxes(autorange="reversed", title_text="query position")
    fig.update_xaxes(title_text="key position")
    return _finish(fig, title, 560)


def weight_norm_trajectory(weight_norm, test_loss, steps, train_loss=None,
                           title: str = "Weight norm against loss over training (Omnigrok's LU picture)",
                           loss_name: str = LOSS_NAMES["ce"]) -> go.Figure:
    """Test (and train) loss against the total weight norm, points coloured by step (Liu et al. 2023)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=_np(weight_norm), y=_np(test_loss), mode="lines+markers", name="test loss",
                             marker=dict(color=_np(steps), colorscale="Viridis", size=5,
                                         colorbar=dict(title="step")), line=dict(color="#bbbbbb", width=1)))
    if train_loss is not None:
        fig.add_trace(go.Scatter(x=_np(weight_norm), y=_np(train_loss), mode="lines", name="train loss",
                                 line=dict(color=_COS, dash="dot")))
    fig.update_xaxes(title_text="total weight norm")
    fig.update_yaxes(type="log", title_text=loss_name)
    return _finish(fig, title, 460)


def norm_decay(steps, weight_norm, fit, title: str = "Weight norm over training, with the fitted exp(-gamma t)"
               ) -> go.Figure:
    """The total weight norm over steps (log y) and, when `fit` (an `analysis.normdecay.NormDecayFit`) is
    given, its exp(-gamma t) line over the fitted window, shaded (Liu et al. 2023, Omnigrok Fig. 3)."""
    fig = go.Figure(go.Scatter(x=_np(steps), y=_np(weight_norm), mode="lines", name="weight norm",
                               line_color=_COS))
    if fit is not None:
        t = np.linspace(fit.start, fit.end, 50)
        fig.add_trace(go.Scatter(x=t, y=fit.line(t), mode="lines", name=f"fit: gamma {fit.gamma:.3g}",
                                 line=dict(color=_SIN, dash="dash", width=3)))
        fig.add_vrect(x0=fit.start, x1=fit.end, fillcolor=_SIN, opacity=0.08, line_width=0)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(type="log", title_text="total weight norm")
    return _finish(fig, title, 420)


def measures_beside_test_loss(series: dict[str, tuple[Any, Any]], loss_steps, test_loss,
                              title: str = "Measures over training, beside the test loss") -> go.Figure:
    """One panel per measure (`series[name] = (steps, values)`), each with the test loss (log) on its right axis."""
    n = len(series)
    fig = make_subplots(rows=n, cols=1, subplot_titles=list(series), specs=[[{"secondary_y": True}]] * n,
                        shared_xaxes=True, vertical_spacing=min(0.12, 0.5 / max(n, 1)))
    for i, (name, (steps, values)) in enumerate(series.items(), start=1):
        fig.add_trace(go.Scatter(x=_np(steps), y=_np(values), mode="lines+markers", name=name, line_color=_COS,
                                 showlegend=False), i, 1)
        fig.add_trace(go.Scatter(x=_np(loss_steps), y=_np(test_loss), mode="lines", name="test loss",
                                 line=dict(color=_SIN, dash="dot"), showlegend=i == 1), i, 1, secondary_y=True)
        fig.update_yaxes(type="log", title_text="test loss", row=i, col=1, secondary_y=True)
    fig.update_xaxes(title_text="step", row=n, col=1)
    return _finish(fig, title, 240 + 220 * n)


# ------------------------------------------------------------------------------------ representations


def representation_lines(steps, rqi, effective_loss, effective_dim, acc_steps=None, test_acc=None,
                         title: str = "Representation quality over training") -> go.Figure:
    """RQI (and test accuracy) on the left axis; effective loss (log) and PCA effective dimension on the
    right, one panel each (Liu et al. 2022)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["RQI and test accuracy", "effective loss and PCA dimension"],
                        specs=[[{}, {"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=_np(steps), y=_np(rqi), name="RQI"), 1, 1)
    if test_acc is not None:
        fig.add_trace(go.Scatter(x=_np(acc_steps), y=_np(test_acc), name="test accuracy", line=dict(dash="dot")), 1, 1)
    fig.add_trace(go.Scatter(x=_np(steps), y=_np(effective_loss), name="effective loss"), 1, 2)
    fig.add_trace(go.Scatter(x=_np(steps), y=_np(effective_dim), name="PCA effective dimension",
                             line=dict(dash="dash")), 1, 2, secondary_y=True)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(range=[0, 1.05], row=1, col=1)
    fig.update_yaxes(type="log", title_text="effective loss", row=1, col=2)
    fig.update_yaxes(title_text="e^S", row=1, col=2, secondary_y=True)
    return _finish(fig, title, 420)
