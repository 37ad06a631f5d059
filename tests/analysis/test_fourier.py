"""Tests for grokinterp.analysis.fourier: planted Fourier structures must be recovered exactly."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from grokinterp.analysis import fourier as fr
from grokinterp.tasks import modular_pairs


def grid_ab(p: int, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """a and b of every pair, in pair order a*p + b."""
    return torch.arange(p, dtype=dtype).repeat_interleave(p), torch.arange(p, dtype=dtype).repeat(p)


def trig_cube(p: int, k: int, phase: float = 0.0, b_sign: int = 1) -> torch.Tensor:
    """cos(w_k (a+b-c) + phase) (or of a-b-c) as (p*p, p) logits."""
    a, b = grid_ab(p)
    c = torch.arange(p, dtype=torch.float64)
    return torch.cos(2 * math.pi * k * ((a + b_sign * b)[:, None] - c[None, :]) / p + phase)


def planted_embedding(p: int, freqs: dict[int, float], d: int, gen: torch.Generator, noise: float = 0.01):
    """W_E (p, d): each frequency k gets amplitude freqs[k] along a random direction pair, random phase."""
    x = torch.arange(p, dtype=torch.float64)
    W = noise * torch.randn(p, d, generator=gen, dtype=torch.float64)
    for k, amp in freqs.items():
        phase = 2 * math.pi * torch.rand((), generator=gen, dtype=torch.float64)
        u, v = torch.randn(2, d, generator=gen, dtype=torch.float64)
        cos, sin = torch.cos(2 * math.pi * k * x / p + phase), torch.sin(2 * math.pi * k * x / p)
        W += amp * (cos[:, None] * u + sin[:, None] * v)
    return W


# ------------------------------------------------------------------------------------------------ basis


@pytest.mark.parametrize("p", [2, 5, 7, 8, 12, 13, 113])
def test_basis_orthonormal_and_ordered(p):
    B = fr.fourier_basis(p)
    assert B.shape == (p, p) and B.dtype == torch.float32
    torch.testing.assert_close(B @ B.T, torch.eye(p), atol=1e-5, rtol=0)
    torch.testing.assert_close(B[0], torch.full((p,), 1 / math.sqrt(p)))
    x = torch.arange(p, dtype=torch.float64)
    B64 = fr.fourier_basis(p, dtype=torch.float64)
    for k in range(1, fr.n_freqs(p) + 1):
        cos, sin = torch.cos(2 * math.pi * k * x / p), torch.sin(2 * math.pi * k * x / p)
        torch.testing.assert_close(B64[2 * k - 1], cos / cos.norm())  # cos first (paper order)
        torch.testing.assert_close(B64[2 * k], sin / sin.norm())
    if p % 2 == 0:
        torch.testing.assert_close(B64[-1], torch.cos(math.pi * x) / math.sqrt(p))
    labels = fr.fourier_labels(p)
    assert len(labels) == p and labels[0] == "const"
    if p >= 3:
        assert labels[1:3] == ["cos 1", "sin 1"]
    assert fr.n_freqs(p) == (p - 1) // 2


def test_basis_dtype_device_and_fresh_copy():
    B = fr.fourier_basis(7, dtype=torch.float64)
    assert B.dtype == torch.float64
    B.zero_()
    assert fr.fourier_basis(7, dtype=torch.float64)[0, 0] > 0  # the cache was not mutated


def test_fft1d_fft2d_and_pair_order():
    p, d = 7, 3
    gen = torch.Generator().manual_seed(1)
    B = fr.fourier_basis(p, dtype=torch.float64)
    W = torch.randn(p, d, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(fr.fft1d(W), B @ W)
    torch.testing.assert_close(fr.fft1d(W.T, dim=-1), (B @ W).T)
    # pair order of the task is a*p + b, and to_grid puts a first
    tokens, _ = modular_pairs("add", p)
    g = fr.to_grid(tokens[:, :2].double(), p)
    assert torch.equal(g[..., 0], torch.arange(p).double()[:, None].expand(p, p))
    assert torch.equal(g[..., 1], torch.arange(p).double()[None, :].expand(p, p))
    X = torch.randn(p * p, d, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(fr.to_pairs(fr.to_grid(X, p)), X)
    # fft2d against explicit sums; index [component of a, component of b]
    grid = fr.to_grid(X, p)
    out = fr.fft2d(grid)
    for f, gg in [(0, 0), (1, 4), (3, 2), (6, 5)]:
        want = sum(B[f, a] * B[gg, b] * grid[a, b] for a in range(p) for b in range(p))
        torch.testing.assert_close(out[f, gg], want)
    # a function of a only lives in row components of a, column 0
    a, _ = grid_ab(p)
    only_a = fr.fft2d(fr.to_grid(torch.cos(2 * math.pi * 2 * a / p)[:, None], p))[..., 0]
    assert only_a[3, 0].abs() > 1 and only_a.abs().sum() - only_a[3, 0].abs() < 1e-9


# ------------------------------------------------------------------------------------------ embeddings


def test_key_frequencies_planted_embedding():
    p = 31
    gen = torch.Generator().manual_seed(0)
    W_E = planted_embedding(p, {3: 1.0, 7: 0.8, 11: 1.2}, d=16, gen=gen)
    assert fr.key_frequencies(W_E, p) == [3, 7, 11]
    assert fr.key_frequencies(W_E.float(), p) == [3, 7, 11]
    fn = fr.freq_norms(fr.component_norms(W_E))
    assert fn.shape == (15,)
    # an embedding including the '=' row is refused
    with pytest.raises(ValueError, match="rows"):
        fr.key_frequencies(torch.cat([W_E, W_E[:1]]), p)


def test_key_frequency_split_between_cos_and_sin_is_found():
    p, d = 31, 8
    x = torch.arange(p, dtype=torch.float64)
    w = lambda k: 2 * math.pi * k / p
    W_E = torch.zeros(p, d, dtype=torch.float64)
    W_E[:, 2] = torch.cos(w(3) * x)
    W_E[:, 3] = torch.cos(w(11) * x)
    # frequency 7 at amplitude 0.3, half in its cos component (dim 0), half in its sin component (dim 1):
    # each component norm is 0.3/sqrt(2) < 1/4 of the max, the frequency norm 0.3 is not
    W_E[:, 0] = 0.3 / math.sqrt(2) * torch.cos(w(7) * x)
    W_E[:, 1] = 0.3 / math.sqrt(2) * torch.sin(w(7) * x)
    cn = fr.component_norms(W_E)
    comp_rule = sorted({(i + 1) // 2 for i in range(1, p) if cn[i] > cn[1:].max() / 4})
    assert comp_rule == [3, 11]  # the component rule misses 7
    assert fr.key_frequencies(W_E, p) == [3, 7, 11]
    # phase invariance of freq_norms
    W_rot = W_E.clone()
    W_rot[:, 2] = torch.sin(w(3) * x + 0.7)
    torch.testing.assert_close(fr.freq_norms(fr.component_norms(W_rot)), fr.freq_norms(cn))


def test_neuron_logit_map_orientation():
    p, d_model, d_mlp = 11, 6, 9
    gen = torch.Generator().manual_seed(2)
    sd = {
        "embed.weight": torch.randn(p + 1, d_model, generator=gen),
        "blocks.0.mlp.out.weight": torch.randn(d_model, d_mlp, generator=gen),  # (d_model, d_mlp), F.linear
        "unembed.weight": torch.randn(p + 1, d_model, generator=gen),
    }
    W_E, W_L = fr.weights_from_state(sd, p)
    assert W_E.shape == (p, d_model) and W_L.shape == (p, d_mlp)
    assert torch.equal(W_E, sd["embed.weight"][:p])
    h = torch.randn(5, d_mlp, generator=gen)  # neuron activations
    logits = F.linear(F.linear(h, sd["blocks.0.mlp.out.weight"]), sd["unembed.weight"])  # as the engine does
    torch.testing.assert_close(h @ W_L.T, logits[:, :p], rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------------------------- neurons


def test_cluster_neurons_planted():
    p = 23
    a, b = grid_ab(p)
    gen = torch.Generator().manual_seed(3)
    cols, want = [], []
    for k, (phi, psi) in [(2, (0.3, 1.1)), (5, (2.0, -1.0)), (9, (0.0, 0.0)), (11, (1.0, 0.5))]:
        w = 2 * math.pi * k / p
        cols.append(torch.relu(torch.cos(w * a + phi) + torch.cos(w * b + psi)))
        cols.append(torch.cos(w * (a + b) + phi))
        want += [k, k]
    cols.append(torch.randn(p * p, generator=gen, dtype=torch.float64))  # noise neuron
    cols.append(torch.full((p * p,), 3.0, dtype=torch.float64))  # constant (dead) neuron
    want += [-1, -1]
    acts = torch.stack(cols, dim=1)
    cl = fr.cluster_neurons(acts, p)
    assert cl.freq.tolist() == want
    assert cl.freq.dtype == torch.long
    assert (cl.frac[:-2] >= 0.85).all() and cl.frac[-2] < 0.2 and cl.frac[-1] == 0
    torch.testing.assert_close(cl.frac[1], torch.tensor(1.0, dtype=torch.float64))
    assert cl.fractions.shape == (acts.shape[1], fr.n_freqs(p))
    assert cl.key_freqs == [2, 5, 9, 11]
    assert cl.sizes() == {-1: 2, 2: 2, 5: 2, 9: 2, 11: 2}
    assert fr.key_frequencies_from_neurons(acts, p, threshold=0.85) == [2, 5, 9, 11]
    # grid input gives the same
    torch.testing.assert_close(fr.neuron_freq_fractions(fr.to_grid(acts, p), p), cl.fractions)
    # a stricter threshold drops the relu neurons (frac ~0.96) but keeps the pure ones
    strict = fr.cluster_neurons(acts, p, threshold=0.99)
    assert strict.freq[0] == -1 and strict.freq[1] == 2


def test_key_frequencies_from_neurons_notebook_rule_vs_threshold():
    """Pure neurons at {3, 7, 12}; mixed neurons (best fraction < 0.85) whose best frequency is 5 or 10 and whose
    weaker frequency (4 or 13) is never anyone's best; a constant neuron. The notebook's rule (every neuron's
    best frequency) gives {3, 5, 7, 10, 12}; the 0.85 threshold (the clusters' frequencies) gives {3, 7, 12}."""
    p = 29
    a, b = grid_ab(p)

    def wave(k: int, phase: float = 0.0) -> torch.Tensor:
        return torch.cos(2 * math.pi * k * (a + b) / p + phase)

    cols = [wave(3), wave(7, 0.4), wave(12, -1.3), wave(3, 2.0)]  # pure: fraction 1
    # mixed: mass ratio 1 : 0.8^2, so fractions 1/1.64 = 0.61 (best) and 0.39
    cols += [wave(5) + 0.8 * wave(4, 0.7), wave(10, 1.0) + 0.8 * wave(13), wave(5, -0.5) + 0.8 * wave(13, 2.2)]
    cols.append(torch.full((p * p,), -2.0, dtype=torch.float64))  # constant: no best frequency
    acts = torch.stack(cols, dim=1)
    cl = fr.cluster_neurons(acts, p)
    torch.testing.assert_close(cl.frac[4:7], torch.full((3,), 1 / 1.64, dtype=torch.float64))
    assert cl.freq.tolist() == [3, 7, 12, 3, -1, -1, -1, -1]
    assert fr.key_frequencies_from_neurons(acts, p) == [3, 5, 7, 10, 12]  # the notebook's rule
    assert fr.key_frequencies_from_neurons(acts, p, threshold=0.85) == [3, 7, 12] == cl.key_freqs
    assert fr.key_frequencies_from_neurons(acts, p, threshold=0.5) == [3, 5, 7, 10, 12]
    assert fr.key_frequencies_from_neurons(acts[:, 4:], p) == [5, 10]  # only mixed neurons: still found
    assert fr.key_frequencies_from_neurons(acts[:, 7:], p) == []  # a constant neuron alone: none
    assert fr.key_frequencies_from_neurons(fr.to_grid(acts, p), p) == [3, 5, 7, 10, 12]
    with pytest.raises(ValueError, match="unbatched"):
        fr.key_frequencies_from_neurons(acts.expand(2, *acts.shape), p)


def test_logit_fourier_norms_planted():
    p = 13
    L = 2.0 * trig_cube(p, 4)  # cos(w(a+b-c)) lives on components {cos 4, sin 4}^2
    n = fr.logit_fourier_norms(L, p)
    assert n.shape == (p, p)
    support = {(i, j) for i in (7, 8) for j in (7, 8)}
    off = sum(float(n[i, j]) ** 2 for i in range(p) for j in range(p) if (i, j) not in support)
    assert off < 1e-18
    torch.testing.assert_close((n**2).sum(), (L**2).sum())


# ---------------------------------------------------------------------------------------------- logits


def test_sum_directions_match_basis_formula():
    p, k = 11, 3
    u_cos, u_sin = fr.sum_directions(p, k, dtype=torch.float64)
    B = fr.fourier_basis(p, dtype=torch.float64)
    c, s = B[2 * k - 1], B[2 * k]
    torch.testing.assert_close(u_cos, (torch.outer(c, c) - torch.outer(s, s)).flatten() / math.sqrt(2))
    torch.testing.assert_close(u_sin, (torch.outer(s, c) + torch.outer(c, s)).flatten() / math.sqrt(2))
    a, b = grid_ab(p)
    torch.testing.assert_close(u_cos, torch.cos(2 * math.pi * k * (a + b) / p) / math.sqrt(p * p / 2))
    with pytest.raises(ValueError):
        fr.sum_directions(p, 6)


def test_restricted_and_excluded_logits_planted():
    p, key = 17, [2, 5]
    gen = torch.Generator().manual_seed(4)
    const = torch.randn(p, generator=gen, dtype=torch.float64)  # per-class constant
    L = 3.0 * trig_cube(p, 2) + 1.5 * trig_cube(p, 5, phase=0.4) + const
    torch.testing.assert_close(fr.restricted_logits(L, p, key), L)
    torch.testing.assert_close(fr.excluded_logits(L, p, key), const.expand_as(L))
    # the restricted loss equals the full loss
    _, labels = modular_pairs("add", p)
    torch.testing.assert_close(F.cross_entropy(fr.restricted_logits(L, p, key), labels), F.cross_entropy(L, labels))
    # other structure: a non-key frequency, and a key frequency in a alone (not a (a+b) direction)
    a, _ = grid_ab(p)
    other = 0.7 * trig_cube(p, 7) + 0.5 * torch.cos(2 * math.pi * 2 * a / p)[:, None].expand(p * p, p)
    L2 = L + other
    torch.testing.assert_close(fr.restricted_logits(L2, p, key), L)
    torch.testing.assert_close(fr.excluded_logits(L2, p, key), const + other)
    # dropping a key frequency from the set moves its term to the excluded part
    torch.testing.assert_close(fr.excluded_logits(L, p, [2]), 1.5 * trig_cube(p, 5, phase=0.4) + const)
    assert fr.key_projection(L, p, []).abs().max() == 0


def test_subtraction_directions():
    p, key = 13, [3, 4]
    _, labels = modular_pairs("sub", p)
    L = 2.0 * trig_cube(p, 3, b_sign=-1) + trig_cube(p, 4, phase=1.0, b_sign=-1) + 0.5
    torch.testing.assert_close(fr.restricted_logits(L, p, key, b_sign=-1), L)
    torch.testing.assert_close(fr.excluded_logits(L, p, key, b_sign=-1), torch.full_like(L, 0.5))
    assert F.cross_entropy(L, labels) < F.cross_entropy(torch.zeros_like(L), labels)  # planted logits fit sub
    # the addition directions see none of it
    torch.testing.assert_close(fr.restricted_logits(L, p, key), torch.full_like(L, 0.5))
    cs = fr.cos_coefficients(L, p, b_sign=-1).cos_sim
    assert cs[2] > 0.8 and cs[[0, 1, 4, 5]].abs().max() < 1e-9
    assert fr.cos_coefficients(L, p).cos_sim.abs().max() < 1e-9
    with pytest.raises(ValueError):
        fr.key_projection(L, p, key, b_sign=2)


def cos_coef_cube(L: torch.Tensor, p: int) -> torch.Tensor:
    """Direct computation over the (n_freq, p, p, p) cube."""
    a = torch.arange(p, dtype=torch.float64)
    s = (a[:, None, None] + a[None, :, None] - a[None, None, :])
    out = []
    for k in range(1, fr.n_freqs(p) + 1):
        cube = torch.cos(2 * math.pi * k * s / p)
        cube = cube / cube.norm()
        out.append((cube.reshape(p * p, p) * L).sum(dim=(-2, -1)))
    return torch.stack(out, dim=-1)


@pytest.mark.parametrize("p", [7, 11])
def test_cos_coefficients_match_cube(p):
    gen = torch.Generator().manual_seed(p)
    L = torch.randn(2, p * p, p, generator=gen, dtype=torch.float64)
    cc = fr.cos_coefficients(L, p)
    torch.testing.assert_close(cc.coef, cos_coef_cube(L, p))
    torch.testing.assert_close(cc.cos_sim, cos_coef_cube(L, p) / L.flatten(-2).norm(dim=-1, keepdim=True))
    assert cc.freqs == list(range(1, fr.n_freqs(p) + 1))
    sub = fr.cos_coefficients(L, p, freqs=[3, 1])
    torch.testing.assert_close(sub.coef, cc.coef[..., [2, 0]])
    # a pure cube: cos_sim 1 at its frequency, 0 elsewhere
    k = 2
    pure = fr.cos_coefficients(5.0 * trig_cube(p, k), p).cos_sim
    want = torch.zeros(fr.n_freqs(p), dtype=torch.float64)
    want[k - 1] = 1
    torch.testing.assert_close(pure, want)
    with pytest.raises(ValueError, match="'='"):
        fr.cos_coefficients(torch.zeros(p * p, p + 1, dtype=torch.float64), p)


# ------------------------------------------------------------------------------------------------ gini


def test_gini():
    n = 10
    assert fr.gini(torch.full((n,), 2.5)).item() == pytest.approx(0.0, abs=1e-7)
    one_hot = torch.zeros(n)
    one_hot[3] = 4.0
    assert fr.gini(one_hot).item() == pytest.approx((n - 1) / n)
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(200, n, generator=gen, dtype=torch.float64) ** 3
    g = fr.gini(x)
    assert g.shape == (200,) and (g >= 0).all() and (g < (n - 1) / n).all()
    # a textbook value: (0, 0, 0, 1, 1) -> sum (2i-n-1) x_(i) / (n sum x) = (2 + 4) / (5 * 2)
    assert fr.gini(torch.tensor([1.0, 0, 1, 0, 0])).item() == pytest.approx(0.6)
    # permutation and scale invariance; batch dims
    perm = torch.randperm(n, generator=gen)
    torch.testing.assert_close(fr.gini(x[:, perm] * 7.0), g)
    torch.testing.assert_close(fr.gini(x.reshape(4, 50, n)), g.reshape(4, 50))
    assert fr.gini(torch.zeros(n)).item() == 0.0
    with pytest.raises(ValueError):
        fr.gini(torch.tensor([1.0, -1.0]))


# ---------------------------------------------------------------------------------------- discrete log


@pytest.mark.parametrize("p", [2, 3, 5, 7, 11, 13, 23, 31, 113])
def test_primitive_root(p):
    g = fr.primitive_root(p)
    order = fr.dlog_order(p)
    assert order[0] == 1 and sorted(order) == list(range(1, p))
    assert all(order[i] == pow(g, i, p) for i in range(p - 1))
    # smallest: no smaller g generates the group
    assert all(len({pow(h, i, p) for i in range(p - 1)}) < p - 1 for h in range(2, g))


def test_primitive_root_rejects_composite():
    with pytest.raises(ValueError):
        fr.primitive_root(12)


def test_dlog_planted_multiplication():
    p, k, n = 23, 4, 22
    order = fr.dlog_order(p)
    log = {x: i for i, x in enumerate(order)}
    gen = torch.Generator().manual_seed(6)
    E = 0.01 * torch.randn(p, 6, generator=gen, dtype=torch.float64)
    for x in range(1, p):
        E[x, 0] += math.cos(2 * math.pi * k * log[x] / n)
        E[x, 1] += math.sin(2 * math.pi * k * log[x] / n + 0.3)
    E[0] = 5.0  # residue 0 is outside the group and dropped
    assert fr.key_frequencies(fr.to_dlog(E, p), n) == [k]
    assert fr.key_frequencies(E, p) != [k]  # invisible in the additive basis
    # pair data of x*y: f(a*b) = cos(w_k log(ab)) becomes cos(w_k (i+j)) on the (p-1) grid
    tokens, labels = modular_pairs("mul", p)
    f = torch.tensor([math.cos(2 * math.pi * k * log[c] / n) if c else 0.0 for c in labels.tolist()],
                     dtype=torch.float64)[:, None]
    cl = fr.cluster_neurons(fr.pairs_to_dlog(f, p), n)
    assert cl.freq.tolist() == [k] and cl.frac.item() == pytest.approx(1.0)
    # x/y with b re-indexed by -log b is addition too; div pairs exclude b = 0
    tokens, labels = modular_pairs("div", p)
    f = torch.tensor([math.cos(2 * math.pi * k * log[c] / n) if c else 0.0 for c in labels.tolist()],
                     dtype=torch.float64)[:, None]
    fd = fr.pairs_to_dlog(f, p, invert_b=True)
    assert fr.cluster_neurons(fd, n).freq.tolist() == [k]
    torch.testing.assert_close(fr.key_projection(fd, n, [k]), fd)  # cos(w_k (i+j)): a sum direction
    # without invert_b it is cos(w_k (i-j)): the same frequency block, but orthogonal to the sum directions
    assert fr.key_projection(fr.pairs_to_dlog(f, p), n, [k]).abs().max() < 1e-12


def test_freq_norms_nyquist_even_modulus():
    n = 12
    x = torch.arange(n, dtype=torch.float64)
    W = torch.stack([torch.cos(math.pi * x), 0.1 * torch.cos(2 * math.pi * 2 * x / n)], dim=1)
    assert fr.freq_norms(fr.component_norms(W)).shape == (5,)
    assert fr.key_frequencies(W, n) == [2]
    assert fr.key_frequencies(W, n, include_nyquist=True) == [6]


# -------------------------------------------------------------------------------------- checkpoint axis


def test_batch_axis_matches_loop():
    p, d, d_mlp, n_ckpt = 11, 5, 7, 3
    gen = torch.Generator().manual_seed(7)
    W = torch.randn(n_ckpt, p, d, generator=gen, dtype=torch.float64)
    acts = torch.randn(n_ckpt, p * p, d_mlp, generator=gen, dtype=torch.float64)
    acts[:, :, 0] += 10 * trig_cube(p, 2)[:, 0]
    L = torch.randn(n_ckpt, p * p, p, generator=gen, dtype=torch.float64)
    sd = {
        "embed.weight": torch.randn(n_ckpt, p + 1, d, generator=gen, dtype=torch.float64),
        "blocks.0.mlp.out.weight": torch.randn(n_ckpt, d, d_mlp, generator=gen, dtype=torch.float64),
        "unembed.weight": torch.randn(n_ckpt, p + 1, d, generator=gen, dtype=torch.float64),
    }
    cn = fr.component_norms(W)
    fn = fr.freq_norms(cn)
    fracs = fr.neuron_freq_fractions(acts, p)
    cl = fr.cluster_neurons(acts, p)
    lfn = fr.logit_fourier_norms(L, p)
    res, exc = fr.restricted_logits(L, p, [1, 4]), fr.excluded_logits(L, p, [1, 4])
    cc = fr.cos_coefficients(L, p)
    W_E, W_L = fr.weights_from_state(sd, p)
    g = fr.gini(fn)
    dl = fr.to_dlog(W, p)
    for i in range(n_ckpt):
        torch.testing.assert_close(cn[i], fr.component_norms(W[i]))
        torch.testing.assert_close(fn[i], fr.freq_norms(fr.component_norms(W[i])))
        torch.testing.assert_close(fracs[i], fr.neuron_freq_fractions(acts[i], p))
        assert torch.equal(cl.freq[i], fr.cluster_neurons(acts[i], p).freq)
        torch.testing.assert_close(lfn[i], fr.logit_fourier_norms(L[i], p))
        torch.testing.assert_close(res[i], fr.restricted_logits(L[i], p, [1, 4]))
        torch.testing.assert_close(exc[i], fr.excluded_logits(L[i], p, [1, 4]))
        torch.testing.assert_close(cc.coef[i], fr.cos_coefficients(L[i], p).coef)
        torch.testing.assert_close(cc.cos_sim[i], fr.cos_coefficients(L[i], p).cos_sim)
        W_Ei, W_Li = fr.weights_from_state({k: v[i] for k, v in sd.items()}, p)
        torch.testing.assert_close(W_E[i], W_Ei)
        torch.testing.assert_close(W_L[i], W_Li)
        torch.testing.assert_close(g[i], fr.gini(fr.freq_norms(fr.component_norms(W[i]))))
        torch.testing.assert_close(dl[i], fr.to_dlog(W[i], p))
    assert cl.freq[:, 0].tolist() == [2, 2, 2]
    with pytest.raises(ValueError):
        _ = cl.key_freqs  # batched: index a checkpoint first
