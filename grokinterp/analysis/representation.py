"""Representation quality of addition embeddings: Liu et al. 2022, "Towards Understanding Grokking: An
Effective Theory of Representation Learning" (NeurIPS; code ejmichaud/grokking-squared).

Parallelograms. For symbols 0..n-1 and a set D of unordered pairs {a, b} (default: all of them, a = b
included), the permissible set P0(D) holds every couple of distinct pairs ({i, j}, {m, l}) of D with equal
sums, i + j = m + l (congruent mod `modulus` for modular addition). An embedding E ([n, d]) is first
normalised per dimension, Ẽ = (E - mean over symbols) / std over symbols (unbiased), as the paper's code
does; a couple is a δ-parallelogram when mean over dimensions of (Ẽ_i + Ẽ_j - Ẽ_m - Ẽ_l)^2 < δ.

- `rqi(E, modulus=None, delta=0.01)`: Representation Quality Index = |δ-parallelograms| / |P0| in [0, 1]
  (paper: δ = 0.01, App. E; with this normalisation a 1-D embedding must close each parallelogram to 0.1
  standard deviations). A linear embedding E_k = a + k b scores 1; a random one about 0.
  With a modulus, P0 adds the couples whose sums differ by a multiple of p. No embedding in R^d is additive
  mod p, so a ring (the Fourier circuit's cos/sin) closes only few of them: for modular tasks and
  high-dimensional embeddings use the PCA entropy below (the paper does so for its transformer).
- `effective_loss(E, pairs)`: ℓ_eff = ℓ0 / Z0, ℓ0 = mean over P0(D) of |Ẽ_i + Ẽ_j - Ẽ_m - Ẽ_l|^2, Z0 =
  Σ_k |Ẽ_k|^2, here with Ẽ = E - mean (the ratio does not depend on the scale). It is 0 exactly when every
  training parallelogram closes.
- `effective_theory(pairs, n)`: the effective loss is quadratic, ℓ0 = (1/|P|) Σ_q |A_q E|^2 with one row
  A_q = e_i + e_j - e_m - e_l per parallelogram, so per embedding dimension its Hessian is H = (2/|P|) AᵀA
  / Z0 (here Z0 = n, a normalised embedding with one unit of variance per symbol). λ1 = λ2 = 0 always
  (translation and scale of a linear embedding); the grokking rate is the third eigenvalue λ3, and the
  nullity (eigenvalues below 1e-8 · the largest) is 2 exactly when the training pairs determine a unique
  linear structure. Below the critical training fraction (≈ 0.4 for p = 10) λ3 = 0.
- `pca_entropy(E)`: explained-variance fractions σ_i of the centred embedding, entropy S = -Σ σ_i ln σ_i
  and effective dimension e^S (the paper's high-dimensional stand-in for RQI: it rises until
  generalisation, then drops).
- `measures(E, pairs, modulus)`: all of these for one embedding; `grokinterp.progress.representation_table(run)`
  gives them at every checkpoint of an addition or modular run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor


def all_pairs(n: int) -> Int[Tensor, "n_pairs 2"]:
    """Every unordered pair {a, b} of 0..n-1 (a <= b), a outer, b inner."""
    return torch.triu_indices(n, n).T


def parallelograms(n: int, modulus: int | None = None,
                   pairs: Int[Tensor, "n_pairs 2"] | None = None) -> Int[Tensor, "n_quad 4"]:
    """P0(D): rows (i, j, m, l) for every couple of distinct unordered pairs {i, j}, {m, l} of `pairs`
    (default `all_pairs(n)`) with i + j = m + l (mod `modulus`)."""
    pairs = all_pairs(n) if pairs is None else torch.as_tensor(pairs, dtype=torch.long)
    pairs = torch.unique(torch.sort(pairs, dim=1).values, dim=0)  # unordered, each once
    sums = pairs.sum(1) if modulus is None else pairs.sum(1) % modulus
    order = torch.argsort(sums, stable=True)
    pairs, sums = pairs[order], sums[order]
    out = []
    for s in torch.unique(sums):
        group = pairs[sums == s]
        if len(group) < 2:
            continue
        a, b = torch.triu_indices(len(group), len(group), offset=1)
        out.append(torch.cat([group[a], group[b]], dim=1))
    return torch.cat(out) if out else torch.zeros(0, 4, dtype=torch.long)


def normalise(E: Float[Tensor, "n d"]) -> Float[Tensor, "n d"]:
    """Per-dimension standardisation over the symbols (unbiased std), as Liu et al.'s code; constant
    dimensions are left at 0."""
    E = torch.as_tensor(E, dtype=torch.float64)
    std = E.std(dim=0, keepdim=True)
    return (E - E.mean(dim=0, keepdim=True)) / torch.where(std > 0, std, 1.0)


def _closures(E: Float[Tensor, "n d"], quads: Int[Tensor, "q 4"]) -> Float[Tensor, "q d"]:
    i, j, m, n = quads.T
    return E[i] + E[j] - E[m] - E[n]


def rqi(E: Float[Tensor, "n d"], modulus: int | None = None, delta: float = 0.01,
        pairs: Int[Tensor, "n_pairs 2"] | None = None) -> float:
    """Representation Quality Index of the embedding rows of symbols 0..n-1 (module docstring)."""
    E = torch.as_tensor(E)
    if E.ndim == 1:
        E = E[:, None]
    quads = parallelograms(E.shape[0], modulus, pairs)
    if len(quads) == 0:
        return float("nan")
    err = _closures(normalise(E), quads).pow(2).mean(dim=1)
    return (err < delta).double().mean().item()


def effective_loss(E: Float[Tensor, "n d"], pairs: Int[Tensor, "n_pairs 2"] | None = None,
                   modulus: int | None = None) -> float:
    """ℓ_eff of Liu et al. (module docstring) over the parallelograms of the (training) `pairs`."""
    E = torch.as_tensor(E, dtype=torch.float64)
    if E.ndim == 1:
        E = E[:, None]
    quads = parallelograms(E.shape[0], modulus, pairs)
    Ec = E - E.mean(dim=0, keepdim=True)
    z0 = Ec.pow(2).sum()
    if len(quads) == 0 or z0 == 0:
        return float("nan")
    return (_closures(Ec, quads).pow(2).sum(dim=1).mean() / z0).item()


@dataclass(frozen=True)
class EffectiveTheory:
    eigenvalues: Float[np.ndarray, " n"]  # of H = 2 AᵀA / (|P| n), ascending
    grokking_rate: float  # λ3
    nullity: int  # eigenvalues ~ 0; 2 = a unique linear representation is determined
    n_parallelograms: int

    @property
    def timescale(self) -> float:
        """1 / λ3 (in units of 1 / learning rate; inf when λ3 = 0)."""
        return math.inf if self.grokking_rate <= 0 else 1.0 / self.grokking_rate


def effective_theory(pairs: Int[Tensor, "n_pairs 2"], n: int, modulus: int | None = None) -> EffectiveTheory:
    """Hessian spectrum of the effective loss for training `pairs` on n symbols (module docstring)."""
    quads = parallelograms(n, modulus, pairs)
    A = torch.zeros(len(quads), n, dtype=torch.float64)
    rows = torch.arange(len(quads))
    for col, sign in zip(quads.T, (1.0, 1.0, -1.0, -1.0)):
        A.index_put_((rows, col), torch.full((len(quads),), sign, dtype=torch.float64), accumulate=True)
    H = 2.0 * A.T @ A / (max(len(quads), 1) * n)
    ev = torch.linalg.eigvalsh(H).clamp(min=0).numpy()
    tol = 1e-8 * max(float(ev[-1]), 1e-300)
    nullity = int((ev <= tol).sum())
    rate = float(ev[2]) if n > 2 and ev[2] > tol else 0.0
    return EffectiveTheory(eigenvalues=ev, grokking_rate=rate, nullity=nullity, n_parallelograms=len(quads))


@dataclass(frozen=True)
class PCAResult:
    fractions: Float[np.ndarray, " k"]  # explained-variance fractions, descending
    entropy: float  # -Σ σ ln σ (nats)

    @property
    def effective_dim(self) -> float:
        return math.exp(self.entropy)


def pca_entropy(E: Float[Tensor, "n d"]) -> PCAResult:
    """Explained-variance spectrum of the centred embedding and its entropy."""
    E = torch.as_tensor(E, dtype=torch.float64)
    s = torch.linalg.svdvals(E - E.mean(dim=0, keepdim=True))
    var = s.pow(2)
    frac = (var / var.sum()).numpy() if var.sum() > 0 else np.zeros(len(var))
    nz = frac[frac > 0]
    return PCAResult(fractions=frac, entropy=float(-(nz * np.log(nz)).sum()))


def operand_embedding(task, params: dict[str, Tensor]) -> tuple[Float[Tensor, "n d"], int | None]:
    """The embedding rows of the operand symbols 0..n-1 of an addition or modular task (its spec) in a
    checkpoint's tensors, and the modulus (None for addition without one)."""
    s = task.structure()
    if s is None or s.kind not in ("integers", "cyclic"):
        raise ValueError(f"representation analyses need operands that are numbers (an addition or modular task), "
                         f"not the {task.family!r} task ({task.describe()})")
    return params["embed.weight"][: s.order], (s.order if s.kind == "cyclic" else None)


def measures(E: Float[Tensor, "n d"], pairs: Int[Tensor, "n_pairs 2"], modulus: int | None = None,
             delta: float = 0.01) -> dict[str, float]:
    """RQI (all pairs), effective loss (on `pairs`, the training pairs), PCA entropy and effective dimension of
    one embedding: a row of `grokinterp.progress.representation_table`."""
    pca = pca_entropy(E)
    return {"rqi": rqi(E, modulus, delta), "effective_loss": effective_loss(E, pairs, modulus),
            "pca_entropy": pca.entropy, "effective_dim": pca.effective_dim}
