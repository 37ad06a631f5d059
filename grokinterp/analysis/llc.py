"""The local learning coefficient (LLC) of a loss at a point, by localised SGLD (Lau, Furman, Wang, Murfet and
Wei 2023, "The local learning coefficient: a singularity-aware complexity measure", algorithm 1; the
estimator that Timaeus' `devinterp` implements and uses on grokking).

For the mean training loss L_n over n samples and a point w* (a trained checkpoint), the estimator is

    lambda_hat(w*) = n beta (E_w[L_n(w)] - L_n(w*)),    n beta = n / log n by default (beta* = 1 / log n),

the expectation taken over the tempered, localised posterior p(w) ~ exp(-n beta L_n(w) - gamma/2 |w - w*|^2),
sampled by SGLD (Welling and Teh 2011, without a step-size schedule), each chain started at w*:

    w <- w - (eps / 2) (n beta grad L_n(w) + gamma (w - w*)) + N(0, eps)

(devinterp's `SGLD` update with `noise_level` 1 and no weight decay). The loss of each draw is the one at the
point whose gradient is taken (before the update), as devinterp records it; `num_burnin` steps are dropped.
Each chain gives n beta (mean of its draws - L_n(w*)); the estimate is the mean over chains and `.std` their
spread (population std, as devinterp's xarray reduction). Gradients are full-batch (`loss_fn` is the mean
over all n samples), so the chains differ only in their noise; `torch.func.vmap` runs them together.

A regular model with d parameters has LLC d/2; singular models (products of parameters at 0, redundant
neurons) have less, which is what makes the LLC a measure of the effective complexity a network has learned.
With localisation gamma the estimate of a quadratic loss with Hessian eigenvalues h_i is
sum_i n beta h_i / (2 (n beta h_i + gamma)), so gamma must be small against n beta h for the d/2 limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

Params = dict[str, Tensor]


@dataclass(frozen=True)
class LLCEstimate:
    per_chain: Float[np.ndarray, " chains"]  # n beta (mean draw loss - init loss), one per chain
    loss_trace: Float[np.ndarray, "chains draws"]  # L_n at every kept draw
    init_loss: float  # L_n(w*)
    nbeta: float
    epsilon: float
    gamma: float

    @property
    def mean(self) -> float:
        return float(self.per_chain.mean())

    @property
    def std(self) -> float:
        return float(self.per_chain.std())

    @property
    def diverged(self) -> bool:
        """A chain's loss became non-finite (the step size is too large for this loss)."""
        return not bool(np.isfinite(self.loss_trace).all())


def default_nbeta(n: int) -> float:
    """n / log n, the inverse temperature beta* = 1 / log n that makes the estimator consistent."""
    if n < 2:
        raise ValueError(f"n beta = n / log n needs n >= 2 training samples, got {n}")
    return n / math.log(n)


def estimate(loss_fn: Callable[[Params], Tensor], params: Params, n: int, *, seed: int = 0, num_chains: int = 4,
             num_draws: int = 200, num_burnin: int = 0, steps_between_draws: int = 1, epsilon: float = 1e-3,
             gamma: float = 100.0, nbeta: float | None = None, vectorise: bool = True) -> LLCEstimate:
    """Localised-SGLD estimate of the LLC of `loss_fn` (the mean loss over the `n` training samples, a function
    of a dict of tensors) at `params`. `epsilon` is the step size, `gamma` the localisation strength, `nbeta`
    the inverse temperature (default n / log n). `vectorise=False` runs the chains one by one (for a loss that
    `torch.func.vmap` cannot batch); both give the same numbers for one seed."""
    if num_chains < 1 or num_draws < 1 or num_burnin < 0 or steps_between_draws < 1:
        raise ValueError("num_chains, num_draws and steps_between_draws must be >= 1 and num_burnin >= 0")
    if epsilon <= 0 or gamma < 0:
        raise ValueError(f"epsilon must be > 0 and gamma >= 0, got {epsilon}, {gamma}")
    nbeta = default_nbeta(n) if nbeta is None else float(nbeta)
    star = {k: v.detach() for k, v in params.items()}
    with torch.no_grad():
        init_loss = float(loss_fn(star))
    # one noise stream per chain, so chains run together or one by one draw the same numbers
    gens = [torch.Generator().manual_seed(int(np.random.SeedSequence([seed, c]).generate_state(1)[0]))
            for c in range(num_chains)]
    total = num_burnin + num_draws * steps_between_draws
    grad_value = torch.func.grad_and_value(loss_fn)
    trace = np.empty((total, num_chains))

    def noise(c: int) -> Params:
        return {k: torch.randn(v.shape, generator=gens[c], dtype=v.dtype) for k, v in star.items()}

    if vectorise:
        step_fn = torch.func.vmap(grad_value)
        w = {k: v.expand(num_chains, *v.shape).clone() for k, v in star.items()}
        for t in range(total):
            grads, loss = step_fn(w)
            trace[t] = loss.detach().numpy()
            zs = [noise(c) for c in range(num_chains)]
            w = _sgld_step(w, grads, star, {k: torch.stack([z[k] for z in zs]) for k in star}, nbeta, epsilon, gamma)
    else:
        for c in range(num_chains):
            w = {k: v.clone() for k, v in star.items()}
            for t in range(total):
                grads, loss = grad_value(w)
                trace[t, c] = float(loss)
                w = _sgld_step(w, grads, star, noise(c), nbeta, epsilon, gamma)
    kept = trace[num_burnin:][steps_between_draws - 1::steps_between_draws].T  # [chains, draws]
    per_chain = nbeta * (kept.mean(axis=1) - init_loss)
    return LLCEstimate(per_chain, kept, init_loss, nbeta, epsilon, gamma)


def _sgld_step(w: Params, grads: Params, star: Params, noise: Params, nbeta: float, epsilon: float,
               gamma: float) -> Params:
    return {k: (w[k] - 0.5 * epsilon * (nbeta * grads[k] + gamma * (w[k] - star[k])) + math.sqrt(epsilon) * noise[k]).detach()
            for k in w}
