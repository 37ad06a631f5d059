"""Irreducible representations in the logits of S_n runs (Chughtai, Chan & Nanda 2023, "A Toy Model of
Universality: Reverse Engineering How Networks Learn Group Operations").

Their "group composition via representations" algorithm computes logit(c) ~ sum_rho w_rho chi_rho(a*b*c^-1)
over a few key irreps rho. For any permutation task with answer t = t(x, y) (x*y, x*y*x^-1, x*y*x) the
analogue is chi_rho(t * c^-1), a class function of the gap between the right answer and the candidate c.

- `logit_similarity`: for every irrep, the cosine similarity between the logits (each pair's row centred
  over c, flattened over all pairs) and the character cube chi_rho(t * c^-1), uncentred, as their
  `utils/metrics.py` defines it. The trivial irrep's cube is constant, so its similarity is 0 after
  centring; the cubes of distinct irreps are orthogonal, so sum_rho sim_rho^2 ("fraction of logits
  explained") is at most 1.
- `key_irreps`: irreps with similarity >= `threshold` (Chughtai et al.: 0.005, far above the ~1/sqrt(N g)
  of random logits) and >= `rel` x the largest similarity.
- `key_projection`: the logits projected on the functions of (pair, c) that depend on the pair only through
  its answer t and lie, as functions of t, in the isotypic components of the key irreps:
  P(L)[pair, c] = sum_rho (Pi_rho F_c)(t(pair)), with F_c(t) the mean of L[., c] over the pairs with answer t
  (every t has exactly n! pairs) and Pi_rho[x, y] = (d_rho/|G|) chi_rho(x*y^-1). This is the group version
  of Nanda et al.'s projection on cos/sin(w_k(a+b)); the restricted loss keeps it (plus the mean over pairs
  of the rest), the excluded loss removes it — the logit-level counterpart of Chughtai et al.'s
  hidden-layer projection on rho(ab).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from grokinterp.analysis import groups


def _gap_classes(answers: Int[Tensor, " pairs"], n: int) -> Int[Tensor, "pairs g"]:
    """Column of the character table of t(pair) * c^-1 for every pair and candidate c."""
    table = torch.from_numpy(groups.multiplication_table(n).copy())
    inv = torch.from_numpy(groups.inverse_table(n).copy())
    cls = torch.from_numpy(groups.class_index(n).copy())
    return cls[table[answers.cpu()][:, inv]]


def character_cube(answers: Int[Tensor, " pairs"], n: int, irrep) -> Float[Tensor, "pairs g"]:
    """chi_rho(t(pair) * c^-1) for every pair (answer t) and candidate c."""
    lam = groups.parse_irrep(irrep, n)
    ct = groups.character_table(n)
    chi = torch.tensor(ct.chi[ct.irreps.index(lam)], dtype=torch.float64)
    return chi[_gap_classes(answers, n)]


def logit_similarity(
    logits: Float[Tensor, "pairs g"], answers: Int[Tensor, " pairs"], n: int
) -> dict[str, float]:
    """Cosine similarity of the row-centred logits with each irrep's character cube (names as keys).

    `logits` holds the logits of the n! permutation tokens ('=' dropped) for every pair whose answer is
    `answers[pair]`; any subset of the pairs works.
    """
    g = math.factorial(n)
    if logits.ndim != 2 or logits.shape[1] != g or logits.shape[0] != answers.shape[0]:
        raise ValueError(f"logit_similarity needs logits of shape (pairs, {g}) and one answer per pair, got "
                         f"{tuple(logits.shape)} and {tuple(answers.shape)}")
    centred = logits.detach().to(torch.float64).cpu()
    centred = centred - centred.mean(-1, keepdim=True)
    norm = centred.norm()
    classes = _gap_classes(answers, n)
    ct = groups.character_table(n)
    out = {}
    for i, lam in enumerate(ct.irreps):
        cube = torch.tensor(ct.chi[i], dtype=torch.float64)[classes]
        denom = norm * cube.norm()
        out[groups.irrep_name(lam)] = float((centred * cube).sum() / denom) if denom > 0 else 0.0
    return out


def key_irreps(similarity: dict[str, float], n: int, *, threshold: float = 0.005, rel: float = 0.1) -> list[str]:
    """Names of the irreps whose logit similarity is >= threshold and >= rel * the largest (trivial excluded)."""
    sims = {k: v for k, v in similarity.items() if k != "trivial"}
    top = max(sims.values(), default=0.0)
    return [k for k, v in sims.items() if v >= threshold and v >= rel * top]


def fraction_explained(similarity: dict[str, float], irreps=None) -> float:
    """sum of sim_rho^2 over `irreps` (default: all): the share of the centred logits' squared norm that
    the character cubes explain."""
    names = similarity if irreps is None else irreps
    return float(sum(similarity[k] ** 2 for k in names))


def key_projector(n: int, irreps) -> Float[Tensor, "g g"]:
    """Sum of the isotypic projectors of `irreps` (names or partitions)."""
    g = math.factorial(n)
    total = np.zeros((g, g))
    for irrep in irreps:
        total += groups.projector(groups.parse_irrep(irrep, n), n)
    return torch.from_numpy(total)


def key_projection(
    logits: Float[Tensor, "pairs g"], answers: Int[Tensor, " pairs"], n: int, irreps
) -> Float[Tensor, "pairs g"]:
    """Projection of the logits of **all** n!^2 pairs on the key-irrep functions of the answer (module doc)."""
    g = math.factorial(n)
    if logits.shape[0] != g * g:
        raise ValueError(f"key_projection needs the logits of all {g * g} pairs, got {logits.shape[0]}")
    dtype = logits.dtype
    lg = logits.to(torch.float64)
    ans = answers.to(lg.device)
    per_answer = torch.zeros(g, lg.shape[1], dtype=torch.float64, device=lg.device).index_add_(0, ans, lg) / g
    proj = key_projector(n, irreps).to(lg.device) @ per_answer
    return proj[ans].to(dtype)


def restricted_logits(logits, answers, n: int, irreps) -> Tensor:
    """Key-irrep projection plus the mean over pairs of everything else (the constant part)."""
    proj = key_projection(logits, answers, n, irreps)
    return proj + (logits - proj).mean(dim=-2, keepdim=True)


def excluded_logits(logits, answers, n: int, irreps) -> Tensor:
    """The logits minus their key-irrep projection."""
    return logits - key_projection(logits, answers, n, irreps)
