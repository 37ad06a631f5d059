"""Spectral measures and ILDR (grokinterp.analysis.spectral) on planted structure: a matrix built with a
power-law spectrum gives back its alpha, the vectorised fit equals WeightWatcher's scan written as a loop, a
planted single large weight (a rank-one spike) is a correlation trap while a random matrix has none, and
class clusters with a known distance ratio give that ratio. Then the curves over a run that groks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grokinterp import progress
from grokinterp.analysis import spectral as sp


def power_law_matrix(alpha: float, n: int, m: int, seed: int) -> torch.Tensor:
    """An n x m matrix whose ESD (eigenvalues of W^T W / n) is m draws of a power law rho ~ lambda^-alpha, x >= 1:
    W = U diag(sqrt(n lambda)) V^T with random orthonormal U, V."""
    g = torch.Generator().manual_seed(seed)
    lam = torch.rand(m, generator=g, dtype=torch.float64) ** (-1 / (alpha - 1))
    u, _ = torch.linalg.qr(torch.randn(n, m, generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(m, m, generator=g, dtype=torch.float64))
    return u @ torch.diag(torch.sqrt(n * lam)) @ v.T


def wwfit_loop(x: np.ndarray) -> tuple[float, float, float]:
    """WeightWatcher's standard WWFit scan as its code writes it: one x_min at a time."""
    x = np.sort(x)
    logs = np.log(x)
    best = (np.inf, 0.0, 0.0)
    for i in range(len(x) - 1):
        n = len(x) - i
        alpha = 1 + n / (logs[i:].sum() - n * logs[i])
        d = 1.0
        if alpha > 1:
            d = np.max(np.abs(1 - (x[i:] / x[i]) ** (1 - alpha) - np.arange(n) / n))
        if d < best[0]:
            best = (d, alpha, x[i])
    return best[1], best[2], best[0]


@pytest.mark.parametrize("alpha", [2.0, 2.5, 4.0])
def test_a_matrix_with_a_power_law_spectrum_gives_back_its_alpha(alpha):
    w = power_law_matrix(alpha, n=600, m=400, seed=int(alpha * 10))
    evals = sp.esd(w)
    fit = sp.power_law_fit(evals)
    assert abs(fit.alpha - alpha) < max(0.2, 3 * fit.sigma), fit
    assert fit.ks < 0.1 and fit.n_tail > 50
    ref_alpha, ref_xmin, ref_d = wwfit_loop(evals)
    assert fit.alpha == pytest.approx(ref_alpha, rel=1e-10) and fit.xmin == ref_xmin
    assert fit.ks == pytest.approx(ref_d, rel=1e-9)
    assert sp.power_law_fit(evals * 37.0).alpha == pytest.approx(fit.alpha, rel=1e-9)  # scale-free


def test_the_esd_is_the_squared_singular_values_over_the_larger_dimension():
    w = torch.randn(50, 20, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert np.allclose(sp.esd(w), np.sort(torch.linalg.eigvalsh(w.T @ w / 50).numpy()))
    assert np.allclose(sp.esd(w.T), sp.esd(w))


def test_a_random_matrix_has_no_trap_and_a_planted_spike_is_one():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(300, 150, generator=g, dtype=torch.float64)
    clean = sp.correlation_traps(w, replicas=5, seed=0)
    assert clean.count == 0 and 0.8 < clean.max_ratio < 1.1
    edge, _ = sp.mp_edge(1.0, 300, 150)
    assert clean.edge == pytest.approx(edge, rel=0.02) and edge == pytest.approx((1 + math.sqrt(0.5)) ** 2)
    spiked = w.clone()
    spiked[7, 3] = 3.0 * math.sqrt(300) * (1 + math.sqrt(0.5))  # |W_pq| / sqrt(N) well above sigma (1 + 1/sqrt(Q))
    traps = sp.correlation_traps(spiked, replicas=5, seed=0)
    assert traps.count == 1 and traps.max_ratio > 3
    assert sp.correlation_traps(spiked.T, replicas=5, seed=0).count == 1  # either orientation


def test_class_clusters_with_a_known_distance_ratio_give_it():
    d, s = 2.0, 0.25
    centres = torch.tensor([[0.0, 0.0, 0.0, 0.0], [d, 0.0, 0.0, 0.0], [d / 2, d * math.sqrt(3) / 2, 0.0, 0.0]],
                           dtype=torch.float64)
    offsets = torch.tensor([[0.0, 0.0, s, 0.0], [0.0, 0.0, -s, 0.0], [0.0, 0.0, 0.0, s], [0.0, 0.0, 0.0, -s]],
                           dtype=torch.float64)
    features = (centres[:, None, :] + offsets[None, :, :]).reshape(-1, 4)
    labels = torch.arange(3).repeat_interleave(4)
    assert sp.ildr(features, labels) == pytest.approx(d * d / (s * s + sp.ILDR_EPS), rel=1e-9)
    with pytest.raises(ValueError, match="two classes"):
        sp.ildr(features[:4], labels[:4])


def test_the_curves_over_a_run_that_groks(grokked_run):
    steps = grokked_run.steps[::max(1, len(grokked_run.steps) // 6)]
    table = progress.spectral(grokked_run, steps, replicas=2, progress=False)
    names = table.meta["matrices"]
    assert "blocks.0.mlp.in.weight" in names and "unembed.weight" in names
    assert table["alpha"].shape == (len(steps), len(names)) and table["traps_total"].shape == (len(steps),)
    assert np.isfinite(table["alpha"]).all() and (table["alpha"] > 1).all()
    sep = progress.ildr(grokked_run, [steps[0], grokked_run.steps[-1]], progress=False)["ildr"]
    assert sep[1] > 10 * sep[0]  # the answers' representations separate once the model generalises
