"""Irrep analyses of S_n logits on planted character-cube logits (Chughtai et al.'s GCR form)."""

from __future__ import annotations

import pytest
import torch

from grokinterp.analysis import irreps
from grokinterp.tasks.permutations import permutation_pairs


def _gcr_logits(n, op, weights, noise=0.0, seed=0):
    """logits[pair, c] = sum_rho w_rho chi_rho(t(pair) * c^-1) (+ Gaussian noise)."""
    _, labels = permutation_pairs(op, n)
    logits = sum(w * irreps.character_cube(labels, n, name) for name, w in weights.items())
    gen = torch.Generator().manual_seed(seed)
    return logits + noise * torch.randn(logits.shape, generator=gen, dtype=torch.float64), labels


@pytest.mark.parametrize("op", ["compose", "conj", "aba"])
def test_planted_gcr_logits_are_found_and_projected_exactly(op):
    n = 4
    logits, labels = _gcr_logits(n, op, {"standard": 1.0, "sign": 0.5}, noise=0.5)
    sims = irreps.logit_similarity(logits, labels, n)
    assert set(irreps.key_irreps(sims, n)) == {"standard", "sign"}
    assert sims["trivial"] == pytest.approx(0.0, abs=1e-12)
    assert sims["standard"] > sims["sign"] > 0.1
    assert irreps.fraction_explained(sims) <= 1.0 + 1e-12
    clean, _ = _gcr_logits(n, op, {"standard": 1.0, "sign": 0.5})
    proj = irreps.key_projection(logits, labels, n, ["standard", "sign"])
    # the planted part is recovered up to the noise's own component in the same subspace (small)
    assert (proj - clean).norm() / clean.norm() < 0.2
    exact = irreps.key_projection(clean, labels, n, ["standard", "sign"])
    assert torch.allclose(exact, clean, atol=1e-10)
    assert irreps.excluded_logits(clean, labels, n, ["standard"]).abs().max() > 0.1
    assert torch.allclose(irreps.excluded_logits(clean, labels, n, ["standard", "sign"]), torch.zeros_like(clean),
                          atol=1e-10)


def test_a_faithful_irrep_alone_computes_the_answer_and_sign_does_not():
    n = 4
    logits, labels = _gcr_logits(n, "compose", {"standard": 1.0})
    assert bool((logits.argmax(-1) == labels).all())
    sign_only, _ = _gcr_logits(n, "compose", {"sign": 1.0})
    assert (sign_only.argmax(-1) == labels).float().mean() < 0.5  # kernel A4: half the answers tie
    restricted = irreps.restricted_logits(logits + 3.0, labels, n, ["standard"])
    assert torch.allclose(restricted, logits + 3.0, atol=1e-10)  # constant part kept


def test_shapes_are_checked():
    logits, labels = _gcr_logits(3, "compose", {"standard": 1.0})
    with pytest.raises(ValueError, match="shape"):
        irreps.logit_similarity(logits[:, :5], labels, 3)
    with pytest.raises(ValueError, match="all 36 pairs"):
        irreps.key_projection(logits[:10], labels[:10], 3, ["standard"])
