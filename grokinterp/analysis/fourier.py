"""Fourier analysis of modular-arithmetic transformers (Nanda et al. 2023, "Progress measures for grokking via
mechanistic interpretability", and their code: `helpers.py`/`transformers.py` of
mechanistic-interpretability-grokking/progress-measures-paper and the `Grokking_Analysis` notebook; also the
TransformerLens `Grokking_Demo`).

Conventions
-----------
Basis. `fourier_basis(n)` is an orthonormal (n, n) matrix whose rows are functions of x = 0..n-1:

- row 0 = 1/sqrt(n) (the constant);
- for k = 1..(n-1)//2: row 2k-1 = cos(2 pi k x / n) and row 2k = sin(2 pi k x / n), each divided by its norm
  (sqrt(n/2)). Cos comes first, as in the paper's `make_fourier_basis`; the TL demo puts sin first.
- for even n, one more row, last: the Nyquist term cos(pi x) = (-1)^x / sqrt(n), so the basis is complete.

Frequencies are 1-based ints k = 1..n_freqs(n) with n_freqs(n) = (n-1)//2; the Nyquist term of even n is not
one of them (see `freq_norms(..., include_nyquist=True)`). Modular addition uses n = p (prime, odd); the
discrete-log view of x*y uses n = p-1 (even).

Transforms. `fft1d(x, dim)` is `x @ F.T` along `dim` (coefficient j = sum_x F[j, x] x[x]); `fft2d` transforms
the two (a, b) axes of grid data (*batch, p, p, d): out[f, g, z] = sum_{a,b} F[f, a] F[g, b] x[a, b, z], so
out is indexed [component of a, component of b].

Pair order. Per-pair quantities (activations, logits) come as (*batch, p*p, d) with pair index a*p + b, the
order of `grokinterp.tasks.modular.modular_pairs`; `to_grid` reshapes them to (*batch, p, p, d). Logits
passed to the logit functions must be the p number outputs only: the models are trained with
d_vocab_out = p+1, and the last logit ('=') must be dropped (`logits[..., :p]`), as the paper's analysis does.

Weights (TL orientation; see `weights_from_state`): W_E = embed.weight[:p] (p, d_model) (the '=' row dropped),
W_out = blocks.0.mlp.out.weight.T (d_mlp, d_model), W_U = unembed.weight.T (d_model, d_vocab_out), and the
neuron-logit map W_L = (W_out @ W_U[:, :p]).T (p, d_mlp), the paper's W_L = W_U[:, :-1].T @ W_out.

Key frequencies. `key_frequencies(W_E, p)`: k is key when its per-frequency norm
sqrt(|F_cos k W_E|^2 + |F_sin k W_E|^2) is >= rel_threshold (0.25) times the largest per-frequency norm.
The TL demo thresholds single components at max/4; using the frequency norm makes the rule invariant to the
phase of each frequency (a frequency split between its cos and sin components is not lost).
Neuron-based rules: each neuron's best frequency is the k whose 3x3 block {0, 2k-1, 2k}^2 minus (0, 0) holds
the largest fraction of its centred 2-D Fourier mass (`neuron_freq_fractions`, k = 1..n_freqs(p)).
- `key_frequencies_from_neurons(acts, p)` is the paper notebook's rule: the set of best frequencies of all
  neurons (`np.unique` of the argmax), with no threshold. A constant (dead) neuron has no Fourier mass and
  no best frequency, so it is skipped (in the notebook its 0/0 fractions are NaN).
- `key_frequencies_from_neurons(acts, p, threshold=0.85)` keeps only neurons whose best fraction is
  >= threshold: the frequencies of the notebook's neuron clusters (`cluster_neurons(acts, p, 0.85).key_freqs`),
  a subset of the rule above. Mixed neurons (best fraction < threshold) add their best frequency to the
  first set but not to this one.

Subtraction. For (a - b) mod p the trig terms are of a-b: pass b_sign=-1 to `sum_directions`, `key_projection`,
`restricted_logits`, `excluded_logits` and `cos_coefficients` (default b_sign=1, addition).

Gini. The paper plots the Gini coefficient of the Fourier norms of W_E and W_L but published no code. `gini`
is the standard G = sum_i (2i - n - 1) x_(i) / (n sum x); grokinterp applies it to `freq_norms` (per-frequency
norms, constant and Nyquist excluded) of W_E and of W_L.

Batching. Functions vectorise over leading `*batch` dims (e.g. a stack of checkpoints) and compute in the
input's dtype and device. Bases are built in float64 and cast. Nothing here does I/O or uses global RNG.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import torch
from jaxtyping import Float, Int
from torch import Tensor

__all__ = [
    "CosCoefficients",
    "NeuronClusters",
    "cluster_neurons",
    "component_norms",
    "cos_coefficients",
    "dlog_order",
    "excluded_logits",
    "fft1d",
    "fft2d",
    "fourier_basis",
    "fourier_labels",
    "freq_norms",
    "gini",
    "key_frequencies",
    "key_frequencies_from_neurons",
    "key_projection",
    "logit_fourier_norms",
    "n_freqs",
    "neuron_freq_fractions",
    "neuron_logit_map",
    "pairs_to_dlog",
    "primitive_root",
    "restricted_logits",
    "sum_directions",
    "to_dlog",
    "to_grid",
    "to_pairs",
    "weights_from_state",
]


# --------------------------------------------------------------------------------------------------- basis


def n_freqs(p: int) -> int:
    """Number of (cos, sin) frequency pairs of the length-p basis: (p-1)//2. Frequencies are k = 1..n_freqs(p)."""
    return (p - 1) // 2


@lru_cache(maxsize=16)
def _basis64(p: int) -> Tensor:
    x = torch.arange(p, dtype=torch.float64)
    rows = [torch.ones(p, dtype=torch.float64)]
    for k in range(1, n_freqs(p) + 1):
        rows.append(torch.cos(2 * math.pi * k * x / p))
        rows.append(torch.sin(2 * math.pi * k * x / p))
    if p % 2 == 0:
        rows.append(torch.cos(math.pi * x))
    b = torch.stack(rows)
    return b / b.norm(dim=1, keepdim=True)


def fourier_basis(
    p: int, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> Float[Tensor, "p p"]:
    """Orthonormal real Fourier basis of functions on Z_p, one basis function per row.

    Row 0 constant; row 2k-1 cos(2 pi k x/p), row 2k sin(2 pi k x/p) (k = 1..(p-1)//2), normalised; for even p
    a last row cos(pi x) (Nyquist). A fresh tensor each call.
    """
    if p < 1:
        raise ValueError(f"p must be >= 1, got {p}")
    return _basis64(p).to(dtype=dtype, device=device, copy=True)


def fourier_labels(p: int) -> list[str]:
    """Row labels of `fourier_basis(p)`: "const", "cos 1", "sin 1", ..., and "cos p/2" (Nyquist) for even p."""
    labels = ["const"]
    for k in range(1, n_freqs(p) + 1):
        labels += [f"cos {k}", f"sin {k}"]
    if p % 2 == 0:
        labels.append(f"cos {p // 2}")
    return labels


def _basis_like(p: int, x: Tensor) -> Tensor:
    return fourier_basis(p, dtype=x.dtype, device=x.device)


# ---------------------------------------------------------------------------------------------- transforms


def fft1d(x: Float[Tensor, ...], p: int | None = None, dim: int = -2) -> Float[Tensor, ...]:
    """Fourier coefficients along `dim` (length p): `F @ x` along that dim (the paper's `t @ F.T` on rows).

    With the default dim=-2, a weight matrix W (*batch, p, d) gives F @ W (*batch, p, d), indexed
    [..., component, d].
    """
    n = x.shape[dim]
    if p is not None and p != n:
        raise ValueError(f"dim {dim} has length {n}, expected p={p}")
    basis = _basis_like(n, x)
    return (x.movedim(dim, -1) @ basis.T).movedim(-1, dim)


def to_grid(x: Float[Tensor, "*batch pairs d"], p: int) -> Float[Tensor, "*batch p p d"]:
    """Reshape pair-indexed data (pair index a*p + b on dim -2) to a (p, p) grid indexed [a, b]."""
    if x.shape[-2] != p * p:
        raise ValueError(f"pair axis (dim -2) has length {x.shape[-2]}, expected p*p = {p * p}")
    return x.reshape(*x.shape[:-2], p, p, x.shape[-1])


def to_pairs(x: Float[Tensor, "*batch p p d"]) -> Float[Tensor, "*batch pairs d"]:
    """Inverse of `to_grid`: (*batch, p, p, d) -> (*batch, p*p, d) with pair index a*p + b."""
    return x.reshape(*x.shape[:-3], x.shape[-3] * x.shape[-2], x.shape[-1])


def _as_grid(x: Tensor, p: int) -> Tensor:
    """Accept pair-indexed (*batch, p*p, d) or grid (*batch, p, p, d) data; return the grid."""
    if x.dim() >= 2 and x.shape[-2] == p * p and p > 1:
        return to_grid(x, p)
    if x.dim() >= 3 and x.shape[-3] == p and x.shape[-2] == p:
        return x
    raise ValueError(f"expected (*batch, {p * p}, d) or (*batch, {p}, {p}, d) data, got shape {tuple(x.shape)}")


def fft2d(x: Float[Tensor, "*batch p p d"]) -> Float[Tensor, "*batch p p d"]:
    """2-D Fourier transform of grid data over its (a, b) axes (dims -3, -2); the last dim is carried along.

    out[..., f, g, z] = sum_{a, b} F[f, a] F[g, b] x[..., a, b, z]. For pair-indexed data use `to_grid` first;
    for data without a trailing dim add one (`x[..., None]`).
    """
    p, d = x.shape[-2], x.shape[-1]
    basis = _basis_like(p, x)
    # two matmuls (2 p^3 d), never the (p, p, p, p) outer product of the bases
    y = (basis @ x.reshape(*x.shape[:-3], p, p * d)).reshape(x.shape)  # over a: [f, b, z]
    return basis @ y  # over b, batched over f: [f, g, z]


def component_norms(W: Float[Tensor, "*batch p d"]) -> Float[Tensor, "*batch p"]:
    """Norm over the last dim of F @ W, per Fourier component (paper Fig 3: `(F @ W).norm(dim=-1)`)."""
    return fft1d(W, dim=-2).norm(dim=-1)


def freq_norms(
    component_norms: Float[Tensor, "*batch p"], include_nyquist: bool = False
) -> Float[Tensor, "*batch n_freq"]:
    """Per-frequency norms sqrt(cos_k^2 + sin_k^2), k = 1..n_freqs(p); the constant is dropped.

    For even p the Nyquist component is dropped too, unless include_nyquist=True, which appends its
    (single-component) norm as a last entry, frequency p/2 (useful in the discrete-log basis of x*y, where
    it is the quadratic-residue character).
    """
    p = component_norms.shape[-1]
    k = n_freqs(p)
    cos = component_norms[..., 1 : 2 * k : 2]
    sin = component_norms[..., 2 : 2 * k + 1 : 2]
    out = torch.sqrt(cos.square() + sin.square())
    if include_nyquist and p % 2 == 0 and p > 1:
        out = torch.cat([out, component_norms[..., -1:].abs()], dim=-1)
    return out


def key_frequencies(
    W_E: Float[Tensor, "p d_model"], p: int, rel_threshold: float = 0.25, include_nyquist: bool = False
) -> list[int]:
    """Key frequencies of an embedding of the p numbers (the '=' row excluded), sorted ascending.

    k is key when freq_norms(component_norms(W_E))[k-1] >= rel_threshold * max over frequencies. With
    include_nyquist (even p only) the Nyquist frequency p/2 can be returned as well.
    """
    if W_E.shape[0] != p:
        raise ValueError(
            f"W_E has {W_E.shape[0]} rows, expected p={p} (pass the numbers' embedding only, embed.weight[:p])"
        )
    fn = freq_norms(component_norms(W_E), include_nyquist=include_nyquist)
    if fn.numel() == 0:
        return []
    top = fn.max()
    if not bool(top > 0):
        return []
    return [i + 1 for i in torch.nonzero(fn >= rel_threshold * top).flatten().tolist()]


# ------------------------------------------------------------------------------------------------- weights


def neuron_logit_map(
    W_out: Float[Tensor, "*batch d_mlp d_model"], W_U: Float[Tensor, "*batch d_model d_vocab_out"], p: int
) -> Float[Tensor, "*batch p d_mlp"]:
    """W_L: the map from MLP neurons to the p number logits, (*batch, p, d_mlp) (paper orientation).

    W_L = (W_out @ W_U[:, :p]).T = W_U[:, :p].T @ W_out.T in TL orientation (W_out (d_mlp, d_model),
    W_U (d_model, d_vocab_out)); the paper writes W_U[:, :-1].T @ W_out with its (d_model, d_mlp) W_out.
    """
    if W_U.shape[-1] < p:
        raise ValueError(f"W_U has {W_U.shape[-1]} outputs, fewer than p={p}")
    return (W_out @ W_U[..., :p]).transpose(-1, -2)


def weights_from_state(
    sd: dict[str, Tensor], p: int, layer: int = 0
) -> tuple[Float[Tensor, "*batch p d_model"], Float[Tensor, "*batch p d_mlp"]]:
    """(W_E, W_L) from a checkpoint dict (names of `grokinterp.models`), stacked leading dims allowed.

    W_E = embed.weight[..., :p, :]; W_out = blocks.{layer}.mlp.out.weight^T; W_U = unembed.weight^T;
    W_L = neuron_logit_map(W_out, W_U, p).
    """
    W_E = sd["embed.weight"][..., :p, :]
    W_out = sd[f"blocks.{layer}.mlp.out.weight"].transpose(-1, -2)
    W_U = sd["unembed.weight"].transpose(-1, -2)
    return W_E, neuron_logit_map(W_out, W_U, p)


# ------------------------------------------------------------------------------------------------- neurons


def neuron_freq_fractions(acts: Float[Tensor, "... d_mlp"], p: int) -> Float[Tensor, "... d_mlp n_freq"]:
    """For each neuron and frequency k, the fraction of its centred 2-D Fourier mass in the block
    {0, 2k-1, 2k}^2 minus (0, 0) (the notebook's rule).

    acts: (*batch, p*p, d_mlp) in pair order a*p + b, or a grid (*batch, p, p, d_mlp). Each neuron is
    centred over the p^2 inputs first. Returns (*batch, d_mlp, n_freqs(p)); a constant neuron gets 0.
    """
    grid = _as_grid(acts, p)
    grid = grid - grid.mean(dim=(-3, -2), keepdim=True)
    sq = fft2d(grid).square()  # (*batch, p, p, d)
    total = sq.sum(dim=(-3, -2))  # (*batch, d)
    k = n_freqs(p)
    c = torch.arange(1, 2 * k, 2, device=acts.device)
    s = c + 1
    block = (
        sq[..., 0, c, :] + sq[..., 0, s, :] + sq[..., c, 0, :] + sq[..., s, 0, :]
        + sq[..., c, c, :] + sq[..., c, s, :] + sq[..., s, c, :] + sq[..., s, s, :]
    )  # (*batch, k, d)
    total = total.unsqueeze(-2)
    frac = torch.where(total > 0, block / torch.where(total > 0, total, torch.ones_like(total)), 0.0)
    return frac.transpose(-1, -2)


@dataclass(frozen=True, eq=False)
class NeuronClusters:
    """Neurons clustered by frequency (`cluster_neurons`).

    freq: (*batch, d_mlp) long, the best frequency of each neuron, -1 where its fraction < threshold (and for
    a constant neuron, which has no Fourier mass).
    frac: (*batch, d_mlp) the best fraction. fractions: (*batch, d_mlp, n_freq) all fractions.
    """

    freq: Int[Tensor, "... d_mlp"]
    frac: Float[Tensor, "... d_mlp"]
    fractions: Float[Tensor, "... d_mlp n_freq"]
    threshold: float

    @property
    def key_freqs(self) -> list[int]:
        """Sorted unique frequencies of the clustered neurons (unbatched results only)."""
        if self.freq.dim() != 1:
            raise ValueError("key_freqs needs an unbatched result; index the checkpoint first")
        return sorted(set(self.freq[self.freq >= 0].tolist()))

    def sizes(self) -> dict[int, int]:
        """Frequency -> number of neurons in its cluster; -1 counts the unclustered (unbatched results only)."""
        if self.freq.dim() != 1:
            raise ValueError("sizes needs an unbatched result; index the checkpoint first")
        vals, counts = torch.unique(self.freq, return_counts=True)
        return dict(zip(vals.tolist(), counts.tolist()))


def cluster_neurons(acts: Float[Tensor, "... d_mlp"], p: int, threshold: float = 0.85) -> NeuronClusters:
    """Assign each neuron its best frequency (argmax of `neuron_freq_fractions`), or -1 below `threshold`
    (the notebook's clusters, threshold 0.85); a constant neuron gets -1 at any threshold."""
    fractions = neuron_freq_fractions(acts, p)
    if fractions.shape[-1] == 0:
        frac = torch.zeros(fractions.shape[:-1], dtype=fractions.dtype, device=fractions.device)
        freq = torch.full(fractions.shape[:-1], -1, dtype=torch.long, device=fractions.device)
    else:
        frac, idx = fractions.max(dim=-1)
        freq = torch.where((frac >= threshold) & (frac > 0), idx + 1, torch.full_like(idx, -1))
    return NeuronClusters(freq=freq, frac=frac, fractions=fractions, threshold=threshold)


def key_frequencies_from_neurons(
    acts: Float[Tensor, "... d_mlp"], p: int, threshold: float | None = None
) -> list[int]:
    """Sorted key frequencies from the neurons' best frequencies (unbatched acts, (p*p, d_mlp) or a grid).

    threshold=None (default), the paper notebook's rule: the set of the best frequencies of all neurons (the
    argmax of `neuron_freq_fractions`), however mixed they are; constant neurons (no Fourier mass) are skipped.
    threshold=t: only neurons whose best fraction is >= t count (t = 0.85 gives the frequencies of the
    notebook's neuron clusters, `cluster_neurons(acts, p).key_freqs`).
    """
    fractions = neuron_freq_fractions(acts, p)
    if fractions.dim() != 2:
        raise ValueError("key_frequencies_from_neurons needs unbatched acts; index the checkpoint first")
    if fractions.shape[-1] == 0:
        return []
    frac, idx = fractions.max(dim=-1)
    keep = frac > 0 if threshold is None else (frac >= threshold) & (frac > 0)
    return sorted(set((idx[keep] + 1).tolist()))


# -------------------------------------------------------------------------------------------------- logits


def logit_fourier_norms(logits: Float[Tensor, "... c"], p: int) -> Float[Tensor, "... p p"]:
    """Norm over the output index c of the 2-D Fourier transform over (a, b) of the logits (paper Fig 4c).

    logits: (*batch, p*p, c) in pair order or (*batch, p, p, c); returns (*batch, p, p) indexed
    [component of a, component of b].
    """
    return fft2d(_as_grid(logits, p)).norm(dim=-1)


def _check_freqs(freqs: Iterable[int], p: int) -> list[int]:
    out = [int(k) for k in freqs]
    bad = [k for k in out if not 1 <= k <= n_freqs(p)]
    if bad:
        raise ValueError(f"frequencies {bad} are outside 1..{n_freqs(p)} for p={p}")
    return out


def _check_sign(b_sign: int) -> int:
    if b_sign not in (1, -1):
        raise ValueError(f"b_sign must be 1 (a+b) or -1 (a-b), got {b_sign}")
    return b_sign


def _sum_dirs(p: int, freqs: list[int], dtype: torch.dtype, device: torch.device, b_sign: int = 1) -> Tensor:
    """(2*len(freqs), p*p): rows u_cos,k and u_sin,k of a + b_sign*b for each k in freqs (interleaved), unit norm."""
    a = torch.arange(p, dtype=torch.float64).repeat_interleave(p)
    b = torch.arange(p, dtype=torch.float64).repeat(p)
    k = torch.tensor(freqs, dtype=torch.float64)[:, None]
    ang = 2 * math.pi * k * (a + _check_sign(b_sign) * b)[None, :] / p
    u = torch.stack([torch.cos(ang), torch.sin(ang)], dim=1).reshape(2 * len(freqs), p * p)
    u = u / u.norm(dim=-1, keepdim=True)
    return u.to(dtype=dtype, device=device)


def sum_directions(
    p: int, k: int, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None, *, b_sign: int = 1
) -> tuple[Float[Tensor, " pairs"], Float[Tensor, " pairs"]]:
    """Unit vectors over the p*p pairs (order a*p + b): cos(w_k (a+b)) and sin(w_k (a+b)), w_k = 2 pi k/p.

    b_sign=-1 gives the directions of a-b instead (for (a - b) mod p models).

    Equal to (F_cos k (x) F_cos k - F_sin k (x) F_sin k)/sqrt(2) and (F_sin k (x) F_cos k + F_cos k (x) F_sin k)/sqrt(2)
    (the paper's `get_component_cos_xpy` / `get_component_sin_xpy`).
    """
    k = _check_freqs([k], p)[0]
    u = _sum_dirs(p, [k], dtype, torch.device(device) if device is not None else torch.device("cpu"), b_sign)
    return u[0], u[1]


def key_projection(
    logits: Float[Tensor, "*batch pairs c"], p: int, freqs: Iterable[int], *, b_sign: int = 1
) -> Float[Tensor, "*batch pairs c"]:
    """sum_{k in freqs} (u_cos,k u_cos,k^T + u_sin,k u_sin,k^T) L along the pair axis (dim -2).

    u are the `sum_directions` of a+b (b_sign=1, addition) or of a-b (b_sign=-1, subtraction).
    """
    if logits.shape[-2] != p * p:
        raise ValueError(f"pair axis (dim -2) has length {logits.shape[-2]}, expected p*p = {p * p}")
    u = _sum_dirs(p, _check_freqs(freqs, p), logits.dtype, logits.device, b_sign)  # (m, p*p)
    coef = torch.einsum("mq,...qc->...mc", u, logits)
    return torch.einsum("mq,...mc->...qc", u, coef)


def restricted_logits(
    logits: Float[Tensor, "*batch pairs c"], p: int, freqs: Iterable[int], *, b_sign: int = 1
) -> Float[Tensor, "*batch pairs c"]:
    """The paper's restricted logits: key_projection(L) + mean over pairs of (L - key_projection(L)).

    Keeps only the cos/sin(w_k (a+b)) directions of the key frequencies plus the per-output constant.
    """
    proj = key_projection(logits, p, freqs, b_sign=b_sign)
    return proj + (logits - proj).mean(dim=-2, keepdim=True)


def excluded_logits(
    logits: Float[Tensor, "*batch pairs c"], p: int, freqs: Iterable[int], *, b_sign: int = 1
) -> Float[Tensor, "*batch pairs c"]:
    """The paper's excluded logits: L - key_projection(L) (no mean correction)."""
    return logits - key_projection(logits, p, freqs, b_sign=b_sign)


@dataclass(frozen=True, eq=False)
class CosCoefficients:
    """`cos_coefficients` result: coef and cos_sim are (*batch, len(freqs)); column j is frequency freqs[j]."""

    coef: Float[Tensor, "... n_sel"]
    cos_sim: Float[Tensor, "... n_sel"]
    freqs: list[int]


def cos_coefficients(
    logits: Float[Tensor, "*batch pairs p_out"], p: int, freqs: Iterable[int] | None = None, *, b_sign: int = 1
) -> CosCoefficients:
    """coef_w = <c_w, L>, c_w = cos(w (a+b-c)) over the (a, b, c) cube scaled to unit Frobenius norm, and
    cos_sim_w = coef_w / ||L||_F, for w = 2 pi k/p, k in freqs (default 1..n_freqs(p)).

    logits: (*batch, p*p, p), pair order a*p + b, the p number outputs only. Never builds the cube: L is
    summed over the classes d = (a+b-c) mod p first (O(p^3)), then coef_k = sum_d cos(w_k d) L_d / ||c_w||,
    with ||cos(w(a+b-c))||_F = p * sqrt(sum_d cos^2(w_k d)). b_sign=-1 uses cos(w(a-b-c)) (subtraction).
    """
    if logits.shape[-2] != p * p or logits.shape[-1] != p:
        raise ValueError(f"expected (*batch, {p * p}, {p}) logits (drop the '=' output), got {tuple(logits.shape)}")
    ks = list(range(1, n_freqs(p) + 1)) if freqs is None else _check_freqs(freqs, p)
    dev = logits.device
    a = torch.arange(p, device=dev).repeat_interleave(p)
    b = torch.arange(p, device=dev).repeat(p)
    c = torch.arange(p, device=dev)
    d_idx = ((a + _check_sign(b_sign) * b)[:, None] - c[None, :]) % p  # (p*p, p)
    flat = logits.reshape(*logits.shape[:-2], p * p * p)
    ld = torch.zeros(*logits.shape[:-2], p, dtype=logits.dtype, device=dev)
    ld = ld.index_add(-1, d_idx.reshape(-1), flat)  # (*batch, p)
    ang = 2 * math.pi * torch.tensor(ks, dtype=torch.float64)[:, None] * torch.arange(p, dtype=torch.float64) / p
    cos = torch.cos(ang)  # (n_sel, p)
    cos = (cos / (p * cos.norm(dim=-1, keepdim=True))).to(dtype=logits.dtype, device=dev)
    coef = ld @ cos.T
    norm = logits.flatten(-2).norm(dim=-1, keepdim=True)
    cos_sim = coef / torch.where(norm > 0, norm, torch.ones_like(norm))
    return CosCoefficients(coef=coef, cos_sim=cos_sim, freqs=ks)


# ---------------------------------------------------------------------------------------------------- gini


def gini(x: Float[Tensor, "*batch n"]) -> Float[Tensor, "*batch"]:
    """Gini coefficient of non-negative vectors along the last dim: G = sum_i (2i - n - 1) x_(i) / (n sum x),
    x sorted ascending, i = 1..n. 0 for a constant vector, (n-1)/n (the maximum) for a one-hot; 0 for all-zero.

    The paper (which cites Hurley & Rickard 2009) published no Gini code. grokinterp's progress measures apply
    it to `freq_norms` (per-frequency norms, constant and Nyquist excluded) of W_E and of W_L.
    """
    if bool((x < 0).any()):
        raise ValueError("gini needs non-negative entries")
    n = x.shape[-1]
    xs = x.sort(dim=-1).values
    i = torch.arange(1, n + 1, dtype=x.dtype, device=x.device)
    total = xs.sum(dim=-1)
    num = ((2 * i - n - 1) * xs).sum(dim=-1)
    return torch.where(total > 0, num / (n * torch.where(total > 0, total, torch.ones_like(total))), 0.0)


# ------------------------------------------------------------------------------------------ discrete log


def _is_prime(p: int) -> bool:
    return p >= 2 and all(p % q for q in range(2, math.isqrt(p) + 1))


def _prime_factors(n: int) -> list[int]:
    out, q = [], 2
    while q * q <= n:
        if n % q == 0:
            out.append(q)
            while n % q == 0:
                n //= q
        q += 1
    if n > 1:
        out.append(n)
    return out


def primitive_root(p: int) -> int:
    """The smallest primitive root g mod the prime p (g generates the nonzero residues); 1 for p = 2."""
    if not _is_prime(p):
        raise ValueError(f"primitive_root needs a prime, got {p}")
    if p == 2:
        return 1
    qs = _prime_factors(p - 1)
    for g in range(2, p):
        if all(pow(g, (p - 1) // q, p) != 1 for q in qs):
            return g
    raise AssertionError("unreachable: every prime has a primitive root")


def dlog_order(p: int) -> list[int]:
    """[g^i mod p for i = 0..p-2], g = primitive_root(p): the nonzero residues by discrete log.

    In this order x*y (x, y != 0) becomes addition of exponents mod p-1 (and x/y subtraction).
    """
    g = primitive_root(p)
    return [pow(g, i, p) for i in range(p - 1)]


def to_dlog(W: Float[Tensor, "*batch p d"], p: int) -> Float[Tensor, "*batch p_minus_1 d"]:
    """Rows of the residues 1..p-1 reordered by discrete log (row i = residue g^i); row 0 (residue 0) dropped.

    Apply the Fourier tools with modulus p-1 afterwards, e.g. key_frequencies(to_dlog(W_E, p), p - 1).
    """
    if W.shape[-2] != p:
        raise ValueError(f"dim -2 has length {W.shape[-2]}, expected p={p}")
    idx = torch.tensor(dlog_order(p), device=W.device)
    return W.index_select(-2, idx)


def pairs_to_dlog(
    x: Float[Tensor, "*batch pairs d"], p: int, invert_b: bool = False
) -> Float[Tensor, "*batch pairs_dlog d"]:
    """Pair-indexed data of a x*y or x/y task re-indexed by discrete logs: (*batch, (p-1)^2, d), new pair index
    i*(p-1) + j for (a, b) = (g^i, g^j); pairs with a zero are dropped.

    Accepts p*p pairs (index a*p + b, e.g. `mul`) or p*(p-1) pairs (b != 0, index a*(p-1) + b-1, `div`).
    With invert_b=True, j stands for b = g^(-j), which turns x/y into addition of exponents mod p-1 so that the
    addition tools (`neuron_freq_fractions`, `restricted_logits`, ... with modulus p-1) apply directly
    (equivalently, keep invert_b=False and pass b_sign=-1). Output
    classes c can be reordered with `to_dlog(logits.mT, p).mT` (class 0 dropped).
    """
    n = p - 1
    order = torch.tensor(dlog_order(p), device=x.device)
    a = order.repeat_interleave(n)
    j = torch.arange(n, device=x.device).repeat(n)
    b = order[(-j) % n] if invert_b else order[j]
    if x.shape[-2] == p * p:
        idx = a * p + b
    elif x.shape[-2] == p * (p - 1):
        idx = a * (p - 1) + (b - 1)
    else:
        raise ValueError(f"pair axis (dim -2) has length {x.shape[-2]}, expected {p * p} or {p * (p - 1)}")
    return x.index_select(-2, idx)
