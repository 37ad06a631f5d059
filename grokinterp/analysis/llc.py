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
spread, the sample std (ddof 1, nan for one chain), as devinterp 1.3.2's `LLCEstimator` reports `llc/std`
(torch's `std()`, unbiased); the algorithm here is that version's (its `SGLD` and `LLCEstimator`).
Gradients are full-batch by default (`loss_fn` the mean over all n samples); with `batch_size` m they are
devinterp's minibatch gradients (grad of the mean over m samples drawn afresh each step), and the trace holds
the minibatch losses. `torch.func.vmap` runs the chains together.

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
        """Sample std over the chains (ddof 1, as devinterp's `llc/std`); nan with one chain."""
        if len(self.per_chain) < 2:
            return float("nan")
        return float(self.per_chain.std(ddof=1))

    @property
    def diverged(self) -> bool:
        """A chain's loss became non-finite (the step size is too large for this loss)."""
        return not bool(np.isfinite(self.loss_trace).all())


def default_nbeta(n: int) -> float:
    """n / log n, the inverse temperature beta* = 1 / log n that makes the estimator consistent."""
    if n < 2:
        raise ValueError(f"n beta = n / log n needs n >= 2 training samples, got {n}")
    return n / math.log(n)


def estimate(loss_fn: Callable[..., Tensor], params: Params, n: int, *, seed: int = 0, num_chains: int = 4,
             num_draws: int = 200, num_burnin: int = 0, steps_between_draws: int = 1, epsilon: float = 1e-3,
             gamma: float = 100.0, nbeta: float | None = None, batch_size: int | None = None,
             vectorise: bool = True) -> LLCEstimate:
    """Localised-SGLD estimate of the LLC of `loss_fn` at `params` (a dict of tensors), `n` the number of
    training samples. `epsilon` is the step size, `gamma` the localisation strength, `nbeta` the inverse
    temperature (default n / log n).

    Full batch (`batch_size=None`): `loss_fn(params)` is the mean loss over all n samples. Minibatch SGLD
    (`batch_size=m`, as devinterp runs it): `loss_fn(params, idx)` is the mean over the samples `idx` (an int64
    tensor of m indices into 0..n-1, drawn without replacement, a fresh batch per step and chain); the trace
    then holds the minibatch losses and the initial loss is `loss_fn(params, arange(n))`.

    `vectorise=False` runs the chains one by one (for a loss that `torch.func.vmap` cannot batch); both give
    the same numbers for one seed. The noise is drawn tensor by tensor in the order of `params`' keys, so one
    seed gives one result only for one key order: pass the tensors in a fixed order (`Run.state_dict` and
    `Run.checkpoints` give the model's), never in the order a file happened to load in."""
    if num_chains < 1 or num_draws < 1 or num_burnin < 0 or steps_between_draws < 1:
        raise ValueError("num_chains, num_draws and steps_between_draws must be >= 1 and num_burnin >= 0")
    if epsilon <= 0 or gamma < 0:
        raise ValueError(f"epsilon must be > 0 and gamma >= 0, got {epsilon}, {gamma}")
    if batch_size is not None and not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be in 1..n={n}, got {batch_size}")
    nbeta = default_nbeta(n) if nbeta is None else float(nbeta)
    star = {k: v.detach() for k, v in params.items()}
    full = batch_size is None
    with torch.no_grad():
        init_loss = float(loss_fn(star) if full else loss_fn(star, torch.arange(n)))
    # one noise (and batch) stream per chain, so chains run together or one by one draw the same numbers
    gens = [torch.Generator().manual_seed(int(np.random.SeedSequence([seed, c]).generate_state(1)[0]))
            for c in range(num_chains)]
    total = num_burnin + num_draws * steps_between_draws
    grad_value = torch.func.grad_and_value(loss_fn)
    trace = np.empty((total, num_chains))

    def draw(c: int) -> tuple[Params, Tensor | None]:
        idx = None if full else torch.randperm(n, generator=gens[c])[:batch_size]
        return {k: torch.randn(v.shape, generator=gens[c], dtype=v.dtype) for k, v in star.items()}, idx

    if vectorise:
        step_fn = torch.func.vmap(grad_value)
        w = {k: v.expand(num_chains, *v.shape).clone() for k, v in star.items()}
        for t in range(total):
            drawn = [draw(c) for c in range(num_chains)]
            noise = {k: torch.stack([z[k] for z, _ in drawn]) for k in star}
            grads, loss = step_fn(w) if full else step_fn(w, torch.stack([i for _, i in drawn]))
            trace[t] = loss.detach().numpy()
            w = _sgld_step(w, grads, star, noise, nbeta, epsilon, gamma)
    else:
        for c in range(num_chains):
            w = {k: v.clone() for k, v in star.items()}
            for t in range(total):
                noise, idx = draw(c)
                grads, loss = grad_value(w) if full else grad_value(w, idx)
                trace[t, c] = float(loss)
                w = _sgld_step(w, grads, star, noise, nbeta, epsilon, gamma)
    kept = trace[num_burnin:][steps_between_draws - 1::steps_between_draws].T  # [chains, draws]
    per_chain = nbeta * (kept.mean(axis=1) - init_loss)
    return LLCEstimate(per_chain, kept, init_loss, nbeta, epsilon, gamma)


def _sgld_step(w: Params, grads: Params, star: Params, noise: Params, nbeta: float, epsilon: float,
               gamma: float) -> Params:
    drift = {k: nbeta * grads[k] + gamma * (w[k] - star[k]) for k in w}
    return {k: (w[k] - 0.5 * epsilon * drift[k] + math.sqrt(epsilon) * noise[k]).detach()
            for k in w}
