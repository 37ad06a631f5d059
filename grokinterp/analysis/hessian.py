"""Curvature of the training loss at a point, from Hessian-vector products (torch.func), never the Hessian.

For a loss L(theta) over a dict of parameter tensors, with Hv = d/d eps grad L(theta + eps v) (forward-over-
reverse, `torch.func.jvp` of `torch.func.grad`):

- top eigenvalue (power iteration, as PyHessian, Yao et al. 2020): v <- Hv / |Hv| from a seeded random unit
  v; lambda_max ~ v . Hv at convergence (the eigenvalue of largest magnitude);
- trace (Hutchinson 1990): tr H = E[z . Hz] over Rademacher z, estimated from `n_samples` probes, which
  `torch.func.vmap` runs together.

The random vectors are drawn tensor by tensor in the order of the params dict's keys, so one seed gives one
result only for one key order: pass the tensors in a fixed order (`Run.state_dict` and `Run.checkpoints` give
the model's), never in the order a file happened to load in.

Sharpness of this kind is what the slingshot and edge-of-stability accounts of grokking track (Thilak et al.
2022; Cohen et al. 2021); per-checkpoint curves come from calling these on each checkpoint's parameters.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.attention import SDPBackend, sdpa_kernel

Params = dict[str, Tensor]


def hvp(loss_fn: Callable[[Params], Tensor], params: Params, v: Params) -> Params:
    """The Hessian-vector product H v of `loss_fn` at `params` (dicts with the same keys and shapes).

    Attention runs in `scaled_dot_product_attention`'s math backend here: torch's fused CPU kernel (what the
    fused forward uses on longer sequences, e.g. repeat-subseq) has no forward-mode derivative, and the math
    backend computes the same attention from differentiable operators."""
    with warnings.catch_warnings(), sdpa_kernel(SDPBackend.MATH):
        # torch's first forward-mode AD call in a process registers its jvp decompositions with
        # `torch.jit.script`, which recent torch (2.13 here) deprecates with a warning that names no code of ours
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=DeprecationWarning)
        return torch.func.jvp(torch.func.grad(loss_fn), (params,), (v,))[1]


def _dot(a: Params, b: Params) -> Tensor:
    return sum((a[k] * b[k]).sum() for k in a)


@dataclass(frozen=True)
class TopEigen:
    value: float  # the eigenvalue of largest magnitude
    iterations: int  # power iterations run
    converged: bool  # relative change below `tol` before `max_iter`


def top_eigenvalue(loss_fn: Callable[[Params], Tensor], params: Params, *, max_iter: int = 100, tol: float = 1e-4,
                   seed: int = 0) -> TopEigen:
    """Power iteration on H from a seeded random unit vector."""
    g = torch.Generator().manual_seed(seed)
    v = {k: torch.randn(p.shape, generator=g, dtype=p.dtype) for k, p in params.items()}
    norm = _dot(v, v).sqrt()
    v = {k: t / norm for k, t in v.items()}
    value = None
    for i in range(1, max_iter + 1):
        hv = hvp(loss_fn, params, v)
        new = float(_dot(v, hv))
        norm = _dot(hv, hv).sqrt()
        if norm == 0:
            return TopEigen(0.0, i, True)
        v = {k: t / norm for k, t in hv.items()}
        if value is not None and abs(new - value) <= tol * max(abs(new), 1e-12):
            return TopEigen(new, i, True)
        value = new
    return TopEigen(value, max_iter, False)


def trace(loss_fn: Callable[[Params], Tensor], params: Params, *, n_samples: int = 64, seed: int = 0) -> float:
    """Hutchinson's estimate of tr H from `n_samples` Rademacher probes, run as one vmapped batch."""
    g = torch.Generator().manual_seed(seed)
    z = {k: (torch.randint(0, 2, (n_samples, *p.shape), generator=g) * 2 - 1).to(p.dtype) for k, p in params.items()}
    hz = torch.func.vmap(lambda v: hvp(loss_fn, params, v))(z)
    return float(sum((z[k] * hz[k]).flatten(1).sum(1) for k in z).mean())
