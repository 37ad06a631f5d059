"""Spectral and class-separation curves over a run's checkpoints (`grokinterp.analysis.spectral` has the maths):
HTSR layer alpha and correlation traps of every weight matrix (`spectral`), and ILDR of the penultimate
representations of held-out inputs (`ildr`)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from grokinterp.analysis import spectral as sp
from grokinterp.models import architecture_of, is_trainable
from grokinterp.progress.table import CheckpointTable, over_checkpoints
from grokinterp.runs.run import Run

MIN_EVALS = 8  # matrices with fewer eigenvalues (e.g. a 3-position embedding) are left out


def spectral_matrices(run: Run) -> list[str]:
    """The weight matrices the spectral measures read: every trainable 2-D tensor with at least MIN_EVALS
    eigenvalues, in the model's order."""
    params = run.state_dict(run.steps[0])
    return [n for n, t in params.items()
            if t.ndim == 2 and min(t.shape) >= MIN_EVALS and is_trainable(n, run.config.model.biases)]


def spectral(run: Run, steps: list[int] | None = None, *, replicas: int = 5, seed: int = 0,
             progress: bool | None = None) -> CheckpointTable:
    """At every checkpoint, for each matrix of `spectral_matrices` (meta "matrices"): `alpha` and `alpha_ks`
    (the power-law fit of its ESD), `traps` (correlation traps, mean over `replicas` seeded shuffles) and
    `trap_ratio` (largest shuffled eigenvalue over the MP edge), each [n_steps, n_matrices]; plus `alpha_mean`
    and `traps_total` [n_steps]."""
    names = spectral_matrices(run)
    if not names:
        raise ValueError(f"{run.path}: no weight matrix with at least {MIN_EVALS} eigenvalues")

    def measure(step: int, params: dict[str, Tensor]) -> dict:
        fits = [sp.power_law_fit(sp.esd(params[n])) for n in names]
        traps = [sp.correlation_traps(params[n], replicas=replicas, seed=seed) for n in names]
        alpha = np.array([f.alpha for f in fits])
        count = np.array([t.count for t in traps])
        return {"alpha": alpha, "alpha_ks": np.array([f.ks for f in fits]), "alpha_mean": float(alpha.mean()),
                "traps": count, "traps_total": float(count.sum()),
                "trap_ratio": np.array([t.max_ratio for t in traps])}

    return over_checkpoints(run, measure, steps, desc="spectral", progress=progress, meta={"matrices": names})


def ildr(run: Run, steps: list[int] | None = None, *, max_examples: int = 1500,
         progress: bool | None = None) -> CheckpointTable:
    """ILDR (column `ildr`) at every checkpoint, of the final residual stream at the first answer position (the
    unembedding's input) on the first `max_examples` test examples, grouped by their answer. Needs an
    architecture with a residual stream before its unembedding (the transformers)."""
    cfg = run.config
    arch = architecture_of(cfg.model)
    if arch.resid is None:
        raise ValueError(f"ILDR reads the representation before the unembedding; model.arch={cfg.model.arch!r} has "
                         f"none")
    task = run.task()
    idx = task.test_idx[:max_examples]
    tokens, labels = task.tokens[idx], task.labels[idx, 0]

    def measure(step: int, params: dict[str, Tensor]) -> dict:
        with torch.no_grad():
            phi = arch.resid(params, cfg.model, tokens, task.answer_pos)[:, 0]
        return {"ildr": sp.ildr(phi, labels)}

    return over_checkpoints(run, measure, steps, desc="ILDR", progress=progress)
