"""Spectral measures of weight matrices and the class separation of representations: HTSR layer alpha, correlation
traps (Martin & Mahoney's heavy-tailed self-regularisation; Prakash & Martin 2025, arXiv 2506.04434, and 2026,
arXiv 2602.02859, on "anti-grokking"), and ILDR (Golwala 2026, arXiv 2604.20923).

**Empirical spectral density.** For W of shape (N, M) with N >= M (else W^T), the eigenvalues of X = W^T W / N,
i.e. lambda_i = s_i^2 / N for the singular values s_i (`esd`).

**Layer alpha** (`power_law_fit`), WeightWatcher's `WWFit` (`WW_powerlaw.py`, its standard scan): with the
eigenvalues sorted, for every candidate x_min = lambda_i (all but the largest) and the n = N_eig - i eigenvalues
at or above it,

    alpha_i = 1 + n / sum_{j >= i} ln(lambda_j / x_min)
    D_i     = max_j | 1 - (lambda_j / x_min)^(1 - alpha_i) - (j - i) / n |      (D_i = 1 where alpha_i <= 1)

and the fit is the i of the smallest KS distance D_i, with sigma = (alpha - 1) / sqrt(n). Alpha does not depend
on the 1/N scale. WeightWatcher 0.7.7 switches to a bias-corrected small-sample fit for fewer than 20 eigenvalues;
this module always uses the standard scan. Eigenvalues below 1e-12 of the largest (a rank-deficient W) are
dropped before the fit. Reading: alpha ~ 2 "well trained", alpha < 2 very heavy tailed (over-fit), alpha >~ 5-6
random-like.

**Correlation traps** (`correlation_traps`): shuffle W's entries (seeded; `replicas` shuffles), take the ESD of
the shuffled matrix, and count its eigenvalues beyond the Marchenko-Pastur bulk edge plus a Tracy-Widom margin:

    lambda_+ = sigma^2 (1 + 1/sqrt(Q))^2,   Q = N / M,   TW = Q^(-1/2) lambda_+^(2/3) M^(-2/3)
    traps    = #{ lambda(W_shuffled) > lambda_+ + sqrt(TW) }         (the mean over replicas)

A shuffled matrix has i.i.d. entries, whose ESD is Marchenko-Pastur with sigma^2 the entries' variance: that is
the sigma^2 used here. WeightWatcher instead rescales the eigenvalues to unit mean and fits sigma to the bulk's
density (`mp_fit`), so counts can differ near the edge. A single large entry (a rank-one spike e_p e_q^T)
survives shuffling and makes a trap once |W_pq| / sqrt(N) > sigma (1 + 1/sqrt(Q)) (2602.02859, App. F). Also
returned: the largest shuffled eigenvalue over lambda_+ (a continuous version of the count) and WeightWatcher's
`ww_softrank`, max(shuffled) / max(ESD).

**ILDR** (`ildr`): the penultimate representations phi of held-out inputs with their labels; with mu_c the mean
of class c,

    Intra = mean_c mean_{x in c} ||phi(x) - mu_c||^2,   Inter = mean_{c < c'} ||mu_c - mu_c'||^2,
    ILDR  = Inter / (Intra + 1e-8)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

ILDR_EPS = 1e-8


def esd(w: Float[Tensor, "rows cols"]) -> np.ndarray:
    """Eigenvalues of W^T W / N (N the larger dimension), ascending, in float64."""
    w = w.detach().to(torch.float64)
    n = max(w.shape)
    s = torch.linalg.svdvals(w)
    return np.sort((s * s / n).cpu().numpy())


@dataclass(frozen=True)
class PowerLawFit:
    """alpha of rho(lambda) ~ lambda^-alpha for lambda >= xmin; `ks`: the KS distance of the fit; `sigma`: its
    standard error; `n_tail`: eigenvalues at or above xmin."""

    alpha: float
    xmin: float
    ks: float
    sigma: float
    n_tail: int


def power_law_fit(evals: np.ndarray) -> PowerLawFit:
    """WeightWatcher's standard WWFit scan over x_min (module docstring), vectorised."""
    x = np.sort(np.asarray(evals, dtype=np.float64))
    x = x[x > 1e-12 * x[-1]] if len(x) and x[-1] > 0 else x[:0]
    if len(x) < 3:
        raise ValueError(f"a power-law fit needs at least 3 positive eigenvalues, got {len(x)}")
    logs = np.log(x)
    n_all = len(x)
    i = np.arange(n_all - 1)
    n = (n_all - i).astype(np.float64)
    tail_log_sum = np.cumsum(logs[::-1])[::-1][:-1]  # sum_{j >= i} ln x_j
    alphas = 1 + n / (tail_log_sum - n * logs[:-1])
    # D_i over the tail j >= i: a (n_all-1, n_all) grid, the entries j < i masked out
    j = np.arange(n_all)
    rank = j[None, :] - i[:, None]
    valid = rank >= 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        theory = 1 - (x[None, :] / x[:-1, None]) ** (1 - alphas[:, None])
        gap = np.abs(theory - rank / n[:, None])
    ds = np.where(valid, gap, 0.0).max(axis=1)
    ds = np.where((alphas > 1) & np.isfinite(ds), ds, 1.0)
    k = int(np.argmin(ds))
    return PowerLawFit(alpha=float(alphas[k]), xmin=float(x[k]), ks=float(ds[k]),
                       sigma=float((alphas[k] - 1) / np.sqrt(n[k])), n_tail=int(n[k]))


@dataclass(frozen=True)
class Traps:
    """`count`: shuffled eigenvalues beyond the MP edge plus the TW margin (mean over replicas); `edge`: lambda_+;
    `threshold`: lambda_+ + sqrt(TW); `max_ratio`: the largest shuffled eigenvalue over lambda_+; `softrank`:
    max(shuffled ESD) / max(ESD)."""

    count: float
    edge: float
    threshold: float
    max_ratio: float
    softrank: float


def mp_edge(sigma2: float, n: int, m: int) -> tuple[float, float]:
    """(lambda_+, lambda_+ + sqrt(TW)) of an n x m matrix (n >= m) of i.i.d. entries of variance sigma2."""
    q = n / m
    edge = sigma2 * (1 + 1 / np.sqrt(q)) ** 2
    tw = q ** -0.5 * edge ** (2 / 3) * m ** (-2 / 3)
    return float(edge), float(edge + np.sqrt(tw))


def correlation_traps(w: Float[Tensor, "rows cols"], replicas: int = 5, seed: int = 0) -> Traps:
    """Correlation traps of W (module docstring): `replicas` seeded element shuffles."""
    w = w.detach().to(torch.float64)
    if w.shape[0] < w.shape[1]:
        w = w.T
    n, m = w.shape
    edge, threshold = mp_edge(float(w.var(unbiased=False)), n, m)
    g = torch.Generator().manual_seed(seed)
    flat = w.reshape(-1)
    counts, tops = [], []
    for _ in range(replicas):
        shuffled = flat[torch.randperm(flat.numel(), generator=g)].reshape(n, m)
        ev = esd(shuffled)
        counts.append(int((ev > threshold).sum()))
        tops.append(ev[-1])
    top = float(max(tops))
    return Traps(count=float(np.mean(counts)), edge=edge, threshold=threshold, max_ratio=top / edge,
                 softrank=top / float(esd(w)[-1]))


def ildr(features: Float[Tensor, "n d"], labels: Int[Tensor, " n"]) -> float:
    """Inter- over intra-class distance of `features` (module docstring); needs at least two classes."""
    f = features.detach().to(torch.float64)
    classes = torch.unique(labels)
    if len(classes) < 2:
        raise ValueError("ILDR needs at least two classes")
    means = torch.stack([f[labels == c].mean(0) for c in classes])
    intra = torch.stack([((f[labels == c] - means[k]) ** 2).sum(-1).mean() for k, c in enumerate(classes)]).mean()
    d2 = ((means[:, None, :] - means[None, :, :]) ** 2).sum(-1)
    iu = torch.triu_indices(len(classes), len(classes), offset=1)
    inter = d2[iu[0], iu[1]].mean()
    return float(inter / (intra + ILDR_EPS))
