"""Tests of grokinterp.report.figures: trace content, axes and phase lines of each figure."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
import torch

from grokinterp.analysis.fourier import fourier_labels
from grokinterp.report import figures

P = 7
STEPS = np.array([0, 10, 20, 30, 40])
PHASES = {"memorization_end": 10, "circuit_formation_end": None, "cleanup_end": 30}


def _vline_xs(fig: go.Figure) -> list[float]:
    return sorted(s.x0 for s in fig.layout.shapes if s.x0 == s.x1)


def test_np_converts_tensor_and_list():
    t = torch.tensor([[1.0, 2.0]], requires_grad=True)
    assert np.array_equal(figures._np(t), [[1.0, 2.0]])
    assert isinstance(figures._np([1, 2]), np.ndarray)


def test_loss_curves_traces_log_axis_and_phase_lines():
    tl, vl = torch.tensor([4.0, 1.0, 0.1, 0.01, 0.001]), np.array([4.0, 5.0, 3.0, 0.5, 0.01])
    ta, va = np.linspace(0, 1, 5), np.linspace(0, 0.9, 5)
    fig = figures.loss_curves(torch.tensor(STEPS), tl, vl, ta, va, PHASES)
    assert len(fig.data) == 4 and all(isinstance(t, go.Scatter) for t in fig.data)
    np.testing.assert_array_equal(fig.data[0].x, STEPS)
    np.testing.assert_allclose(fig.data[0].y, tl.numpy())
    np.testing.assert_allclose(fig.data[1].y, vl)
    np.testing.assert_allclose(fig.data[2].y, ta)
    np.testing.assert_allclose(fig.data[3].y, va)
    assert [fig.data[i].xaxis for i in range(4)] == ["x", "x", "x2", "x2"]
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type != "log"
    # two non-None boundaries on two panels; the None one is skipped
    assert _vline_xs(fig) == [10, 10, 30, 30]
    assert {s.xref for s in fig.layout.shapes} == {"x", "x2"}
    texts = {a.text for a in fig.layout.annotations}
    assert {"memorization_end", "cleanup_end"} <= texts and "circuit_formation_end" not in texts
    assert fig.layout.template == pio.templates["plotly_white"] and fig.layout.title.text
    fig.to_json()


def test_loss_curves_without_phases_has_no_lines():
    fig = figures.loss_curves(STEPS, *([np.ones(5)] * 4))
    assert len(fig.layout.shapes) == 0


def test_fourier_norms_colours_and_values():
    labels = fourier_labels(P)
    norms = torch.arange(P, dtype=torch.float32) + 1
    fig = figures.fourier_norms(norms, labels, "W_E norms")
    assert [t.name for t in fig.data] == ["const", "cos", "sin"]
    assert all(isinstance(t, go.Bar) for t in fig.data)
    const, cos, sin = fig.data
    assert list(const.x) == ["const"] and list(const.y) == [1.0]
    assert list(cos.x) == ["cos 1", "cos 2", "cos 3"] and list(cos.y) == [2.0, 4.0, 6.0]
    assert list(sin.x) == ["sin 1", "sin 2", "sin 3"] and list(sin.y) == [3.0, 5.0, 7.0]
    assert len({t.marker.color for t in fig.data}) == 3
    assert fig.layout.title.text == "W_E norms" and fig.layout.xaxis.title.text
    fig.to_json()
    with pytest.raises(ValueError):
        figures.fourier_norms(norms[:-1], labels, "bad")


def test_attention_heatmaps_one_per_head_capped_at_8():
    pattern = torch.rand(3, P, P)
    fig = figures.attention_heatmaps(pattern)
    assert len(fig.data) == 3 and all(isinstance(t, go.Heatmap) for t in fig.data)
    for h in range(3):
        np.testing.assert_allclose(np.asarray(fig.data[h].z), pattern[h].numpy())
    assert [a.text for a in fig.layout.annotations] == ["head 0", "head 1", "head 2"]
    assert fig.layout.yaxis.title.text == "a" and fig.layout.xaxis.title.text == "b"
    assert len(figures.attention_heatmaps(np.random.rand(10, P, P)).data) == 8
    fig.to_json()


def test_neuron_heatmaps_labelled_by_id():
    acts = np.random.default_rng(0).normal(size=(5, P, P))
    ids = [3, 17, 4, 99, 0]
    fig = figures.neuron_heatmaps(acts, ids)
    assert len(fig.data) == 5
    for i in range(5):
        np.testing.assert_allclose(np.asarray(fig.data[i].z), acts[i])
    assert [a.text for a in fig.layout.annotations] == [f"neuron {n}" for n in ids]
    fig.to_json()


def test_fourier_2d_heatmap_axes_are_labels():
    labels = fourier_labels(P)
    z = torch.rand(P, P, dtype=torch.float64)
    fig = figures.fourier_2d_heatmap(z, labels)
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Heatmap)
    np.testing.assert_allclose(np.asarray(fig.data[0].z), z.numpy())
    assert list(fig.data[0].x) == labels and list(fig.data[0].y) == labels
    assert "a" in fig.layout.yaxis.title.text and "b" in fig.layout.xaxis.title.text
    fig.to_json()


def test_variance_explained_histogram_bins():
    frac = np.array([0.05, 0.95, 0.96, 0.99, 0.5])
    fig = figures.variance_explained_histogram(torch.tensor(frac), bins=10)
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Histogram)
    np.testing.assert_allclose(fig.data[0].x, frac)
    assert fig.data[0].xbins.size == pytest.approx(0.1)
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    fig.to_json()


def test_neuron_cluster_bars_none_label():
    fig = figures.neuron_cluster_bars({14: 30, -1: 5, 3: 12})
    (bar,) = fig.data
    assert isinstance(bar, go.Bar)
    assert list(bar.x) == ["3", "14", "none"] and list(bar.y) == [12, 30, 5]
    fig.to_json()


def _columns(n: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    names = ["train_loss", "test_loss", "restricted_loss", "excluded_loss", "gini_W_E", "gini_W_L", "weight_sq"]
    cols = {name: rng.uniform(0.01, 5.0, size=n) for name in names}
    cols["step"] = STEPS[:n]
    return cols


def test_progress_measures_panels():
    cols = _columns()
    fig = figures.progress_measures(cols, PHASES)
    assert len(fig.data) == 9 and all(isinstance(t, go.Scatter) for t in fig.data)
    by_axis: dict[str, list[str]] = {}
    for t in fig.data:
        np.testing.assert_array_equal(t.x, STEPS)
        by_axis.setdefault(t.yaxis, []).append(t.name)
    assert by_axis == {
        "y": ["excluded loss", "train loss", "test loss"],
        "y2": ["restricted loss", "train loss", "test loss"],
        "y3": ["Gini(W_E)", "Gini(W_L)"],
        "y4": ["sum of squared weights"],
    }
    np.testing.assert_allclose(fig.data[0].y, cols["excluded_loss"])
    np.testing.assert_allclose(fig.data[3].y, cols["restricted_loss"])
    np.testing.assert_allclose(fig.data[6].y, cols["gini_W_E"])
    np.testing.assert_allclose(fig.data[7].y, cols["gini_W_L"])
    np.testing.assert_allclose(fig.data[8].y, cols["weight_sq"])
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "log"
    assert fig.layout.yaxis3.type != "log" and fig.layout.yaxis4.type != "log"
    assert _vline_xs(fig) == [10] * 4 + [30] * 4
    assert sum(bool(t.showlegend) for t in fig.data) == 7  # train/test loss listed once each
    fig.to_json()


def test_progress_measures_accepts_none_phases():
    fig = figures.progress_measures(_columns(), {"memorization_end": None})
    assert len(fig.layout.shapes) == 0


def test_key_frequency_lines_picks_columns():
    norms = torch.arange(15, dtype=torch.float32).reshape(5, 3)
    fig = figures.key_frequency_lines(STEPS, norms, [1, 3])
    assert [t.name for t in fig.data] == ["freq 1", "freq 3"]
    np.testing.assert_allclose(fig.data[0].y, norms[:, 0].numpy())
    np.testing.assert_allclose(fig.data[1].y, norms[:, 2].numpy())
    np.testing.assert_array_equal(fig.data[1].x, STEPS)
    fig.to_json()


def test_embedding_pca_planted_circle():
    p, k, d = 11, 3, 8
    x = np.arange(p)
    W = np.zeros((p, d))
    W[:, 0] = np.cos(2 * math.pi * k * x / p)
    W[:, 1] = np.sin(2 * math.pi * k * x / p)
    W[:, 2] = 5.0  # constant offset: removed by centring
    W += 1e-3 * np.random.default_rng(0).normal(size=(p, d))  # small noise so PC3/PC4 exist
    fig = figures.embedding_pca(torch.tensor(W, dtype=torch.float32))
    assert len(fig.data) == 2 and all(isinstance(t, go.Scatter) for t in fig.data)
    t0 = fig.data[0]
    assert "markers" in t0.mode and "text" in t0.mode and "lines" in t0.mode
    assert list(t0.text) == [str(i) for i in range(p)]
    r = np.hypot(np.asarray(t0.x), np.asarray(t0.y))
    np.testing.assert_allclose(r, r.mean(), rtol=1e-2)
    assert r.mean() == pytest.approx(1.0, rel=1e-2)
    # the line visits points in number order: consecutive points are k steps apart on the circle
    ang = np.angle(np.asarray(t0.x) + 1j * np.asarray(t0.y))
    step = np.abs(np.angle(np.exp(1j * np.diff(ang))))
    np.testing.assert_allclose(step, 2 * math.pi * k / p, atol=1e-2)
    # explained-variance ratios in subplot titles: PC1 + PC2 ~ 100%
    title = fig.layout.annotations[0].text
    ratios = [float(s.split("(")[1].split("%")[0]) for s in title.split(" vs ")]
    assert sum(ratios) == pytest.approx(100.0, abs=0.1)
    assert fig.layout.xaxis.title.text == "PC1" and fig.layout.yaxis2.title.text == "PC4"
    fig.to_json()


def test_embedding_pca_two_components_only():
    W = np.random.default_rng(0).normal(size=(P, 2))
    fig = figures.embedding_pca(W)
    assert len(fig.data) == 1
