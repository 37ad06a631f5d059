"""Representation quality (Liu et al. 2022): RQI, effective loss and theory, PCA entropy, on planted
embeddings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grokinterp.analysis import representation as R


def _brute_force_quads(n: int, modulus: int | None) -> set:
    pairs = [(a, b) for a in range(n) for b in range(a, n)]
    out = set()
    for x in range(len(pairs)):
        for y in range(x + 1, len(pairs)):
            s1, s2 = sum(pairs[x]), sum(pairs[y])
            if (s1 == s2) if modulus is None else (s1 - s2) % modulus == 0:
                out.add(frozenset([pairs[x], pairs[y]]))
    return out


@pytest.mark.parametrize("n,modulus", [(6, None), (7, 7), (10, None)])
def test_parallelograms_match_brute_force(n, modulus):
    quads = R.parallelograms(n, modulus)
    got = {frozenset([(int(i), int(j)), (int(m), int(k))]) for i, j, m, k in quads}
    assert len(got) == len(quads)  # each couple once
    assert got == _brute_force_quads(n, modulus)


def test_rqi_of_a_linear_embedding_is_one_and_of_a_random_one_near_zero():
    k = torch.arange(10.0)[:, None]
    E = torch.tensor([[0.3, -1.0, 2.0]]) + k * torch.tensor([[1.0, 0.5, -2.0]])
    assert R.rqi(E) == 1.0
    assert R.rqi(E[:, :1]) == 1.0
    g = torch.Generator().manual_seed(0)
    assert R.rqi(torch.randn(10, 8, generator=g)) < 0.02
    assert R.rqi(torch.randn(10, 1, generator=g)) < 0.1
    # a small perturbation keeps it near 1, a larger one breaks it (delta is a real tolerance)
    noisy = E + 0.01 * torch.randn(E.shape, generator=g)
    assert R.rqi(noisy) > 0.95
    assert R.rqi(E + 0.5 * torch.randn(E.shape, generator=g)) < 0.5


def test_rqi_modular_counts_only_the_parallelograms_without_wrap_around():
    p = 13
    quads = R.parallelograms(p, p)
    exact = int(((quads[:, 0] + quads[:, 1]) == (quads[:, 2] + quads[:, 3])).sum())
    assert R.rqi(torch.arange(p, dtype=torch.float64)[:, None], modulus=p) == pytest.approx(exact / len(quads))
    assert exact < len(quads)


def test_effective_loss_zero_for_linear_and_scale_invariant():
    E = torch.arange(10.0)[:, None] * torch.tensor([[1.0, 2.0]])
    pairs = R.all_pairs(10)[::2]
    assert R.effective_loss(E, pairs) == pytest.approx(0.0, abs=1e-12)
    g = torch.Generator().manual_seed(1)
    X = torch.randn(10, 4, generator=g)
    assert R.effective_loss(X, pairs) > 0.1
    assert R.effective_loss(7.0 * X + 3.0, pairs) == pytest.approx(R.effective_loss(X, pairs))


def test_effective_theory_critical_fraction_and_unique_structure():
    P = R.all_pairs(10)
    full = R.effective_theory(P, 10)
    assert full.nullity == 2 and full.grokking_rate > 0
    # the null space is spanned by the constant and the linear embedding
    ev = full.eigenvalues
    assert ev[0] == pytest.approx(0, abs=1e-10) and ev[1] == pytest.approx(0, abs=1e-10)
    few = R.effective_theory(P[:8], 10)  # pairs of small numbers only: symbols >= 4 are unconstrained
    assert few.grokking_rate == 0.0 and few.nullity > 2 and math.isinf(few.timescale)
    rates = []
    for frac in (0.6, 0.8, 1.0):
        idx = torch.randperm(55, generator=torch.Generator().manual_seed(0))[: int(frac * 55)]
        rates.append(R.effective_theory(P[idx], 10).grokking_rate)
    assert rates == sorted(rates) and rates[0] > 0  # more data, faster grokking


def test_pca_entropy():
    line = torch.arange(20.0)[:, None] * torch.tensor([[1.0, -1.0, 0.5]])
    assert R.pca_entropy(line).effective_dim == pytest.approx(1.0)
    angle = torch.arange(20) * 2 * math.pi / 20
    circle = torch.stack([torch.cos(angle), torch.sin(angle)], 1)
    res = R.pca_entropy(circle)
    assert res.effective_dim == pytest.approx(2.0, rel=1e-6)
    assert np.allclose(res.fractions, [0.5, 0.5])
    iso = torch.linalg.qr(torch.randn(30, 30, generator=torch.Generator().manual_seed(0)))[0][:, :6] * 10
    assert R.pca_entropy(iso).effective_dim == pytest.approx(6.0, rel=0.02)
