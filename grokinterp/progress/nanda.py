"""Progress measures over every checkpoint of a run (Nanda et al. 2023, "Progress measures for grokking via
mechanistic interpretability", section 5 and appendix C).

`measures(run)` evaluates every checkpoint on all p^2 inputs with the fused forward (a pure function of the
stacked checkpoint tensors) and returns a `CheckpointTable`, one row per checkpoint:

- `train_loss`, `test_loss`, `train_acc`, `test_acc`: as training defines them (cross-entropy over all
  d_vocab_out logits at the answer position, float64), on the run's own split.
- `restricted_loss` (and `restricted_acc`): cross-entropy, over **all** p^2 pairs (the notebook's default
  `mode='all'`), of the logits restricted to the key frequencies: L_r = sum_k P_{cos k}(L) + P_{sin k}(L),
  plus the mean over pairs of L - L_r (equivalently, keeping the constant component). P_u is the projection
  on the unit direction u = cos(w_k(a+b)) or sin(w_k(a+b)) of the pair axis; L is the p^2 x p matrix of
  number logits ('=' dropped, as in the paper's analysis).
- `excluded_loss` (and `excluded_acc`): cross-entropy on the **train** pairs of L - sum_k P_{cos k}(L) +
  P_{sin k}(L), without correction (the paper's "full" excluded loss).
- `gini_W_E`, `gini_W_L`: Gini coefficient of the per-frequency Fourier norms (constant excluded) of the
  number embedding W_E (p x d_model) and of the neuron-logit map W_L = W_U^T W_out (p x d_mlp); see
  `grokinterp.analysis.fourier.gini`. The paper published no code for these; this choice is ours.
- `weight_sq` (total sum of squared parameters, the paper's measure) and `weight_norm` (its square root).

Key frequencies default to those of the final checkpoint's embedding (`fourier.key_frequencies`), used for
every checkpoint, as the paper's notebook does; a run that has never grokked gets a warning (its final
embedding spreads over nearly every frequency).

Permutation-group runs (S_n, Chughtai et al. 2023) get the same columns with key **irreps** in place of key
frequencies: the restricted/excluded logits keep/remove the projection on the key irreps' functions of the
answer (`grokinterp.analysis.irreps.key_projection`), "p" is n!, the Gini coefficients are taken over the
per-dimension irrep fractions (`groups.irrep_fractions` / d_rho^2, trivial excluded), and the key irreps
default to those whose character cubes carry the final logits (`irreps.key_irreps`)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from grokinterp import models
from grokinterp.analysis import fourier, groups, irreps
from grokinterp.errors import user_stacklevel
from grokinterp.models import architecture_of, weight_sq
from grokinterp.progress.table import CheckpointTable, over_checkpoints
from grokinterp.runs.run import Run
from grokinterp.runs.store import CheckpointError

COLUMNS = (
    "step", "train_loss", "test_loss", "train_acc", "test_acc", "restricted_loss", "restricted_acc",
    "excluded_loss", "excluded_acc", "gini_W_E", "gini_W_L", "weight_sq", "weight_norm",
)


def _nll(logits: Float[Tensor, "n c"], labels: Int[Tensor, " n"]) -> Float[Tensor, " n"]:
    """Per-example cross-entropy with the log-softmax in float64."""
    return -logits.to(torch.float64).log_softmax(-1).gather(-1, labels[:, None])[:, 0]


def _correct(logits: Float[Tensor, "n c"], labels: Int[Tensor, " n"]) -> Float[Tensor, " n"]:
    return (logits.argmax(-1) == labels).to(torch.float64)


@dataclass(frozen=True)
class Basis:
    """What "key components" means for a task family: key frequencies of Z_p or key irreps of S_n.

    `project(numbers, labels)` is the projection of the (all pairs x n_answers) logits on the key
    components; `spread(matrix)` the non-negative per-component masses whose Gini coefficient measures
    sparsity (Fourier norms per frequency; irrep fraction per dimension d_rho^2, trivial excluded, so that a
    random matrix spreads evenly).
    """

    family: str
    keys: tuple
    n_answers: int
    project: Callable[[Tensor, Tensor], Tensor]
    spread: Callable[[Tensor], Tensor]


def basis_for(run_cfg, keys) -> Basis:
    """The `Basis` of a run's task (by the algebra of its operands) with the given key frequencies or irreps."""
    reason = why_not_measurable(run_cfg)
    if reason is not None:
        raise ValueError(reason)
    t = run_cfg.task
    s = t.structure()
    if s.kind == "cyclic":
        p, b_sign = s.order, s.sum_sign
        return Basis("modular", tuple(int(k) for k in keys), p,
                     lambda numbers, labels: fourier.key_projection(numbers, p, list(keys), b_sign=b_sign),
                     lambda m: fourier.freq_norms(fourier.component_norms(m)))
    n = s.degree
    names = tuple(groups.irrep_name(groups.parse_irrep(k, n)) for k in keys)
    dims = torch.tensor([groups.irrep_dim(lam) ** 2 for lam in groups.partitions(n)[1:]], dtype=torch.float64)

    def spread(m: Tensor) -> Tensor:
        fr = groups.irrep_fractions(m.detach().cpu().numpy(), n)
        return torch.tensor(list(fr.values())[1:], dtype=torch.float64) / dims

    return Basis("permutation", names, s.order,
                 lambda numbers, labels: irreps.key_projection(numbers, labels, n, names), spread)


def checkpoint_measures(
    params: dict[str, Tensor], run_cfg, tokens: Int[Tensor, "n 3"], labels: Int[Tensor, " n"],
    train_idx: Tensor, test_idx: Tensor, basis: Basis,
) -> dict[str, float]:
    """All measures of one checkpoint; `tokens`/`labels` are every pair in `a * p + b` order."""
    logits = models.fused_logits(params, run_cfg.model, tokens, (2,))[:, 0]  # (pairs, d_vocab_out)
    return measures_from_logits(logits, params, labels, train_idx, test_idx, basis)


def measures_from_logits(logits, params, labels, train_idx, test_idx, basis: Basis) -> dict[str, float]:
    numbers = logits[:, :basis.n_answers]
    # restricted and excluded logits sharing one projection
    proj = basis.project(numbers, labels)
    restricted = proj + (numbers - proj).mean(dim=-2, keepdim=True)
    excluded_train = numbers[train_idx] - proj[train_idx]
    W_E, W_L = fourier.weights_from_state(params, basis.n_answers)
    wsq = weight_sq(params)
    nll, correct = _nll(logits, labels), _correct(logits, labels)  # once over all pairs, then split
    ex_nll = _nll(excluded_train, labels[train_idx])
    return {
        "train_loss": nll[train_idx].mean().item(),
        "test_loss": nll[test_idx].mean().item(),
        "train_acc": correct[train_idx].mean().item(),
        "test_acc": correct[test_idx].mean().item(),
        "restricted_loss": _nll(restricted, labels).mean().item(),
        "restricted_acc": _correct(restricted, labels).mean().item(),
        "excluded_loss": ex_nll.mean().item(),
        "excluded_acc": _correct(excluded_train, labels[train_idx]).mean().item(),
        "gini_W_E": fourier.gini(basis.spread(W_E)).item(),
        "gini_W_L": fourier.gini(basis.spread(W_L)).item(),
        "weight_sq": wsq,
        "weight_norm": math.sqrt(wsq),
    }


def why_not_measurable(run_cfg) -> str | None:
    """None when the progress measures apply to a run config, else why not: they read a transformer's
    weights, on a task whose answers are (a ± b) mod p (trig terms of a ± b) or products in S_n."""
    no_measures = architecture_of(run_cfg.model).no_measures
    if no_measures is not None:
        return no_measures
    t = run_cfg.task
    s = t.structure()
    if s is not None and s.kind == "cyclic" and s.sum_sign is None:
        return (f"progress measures are defined for (a ± b) mod p (trig terms of a+b); this run is {t.op} "
                f"({t.describe()})")
    if s is None or s.kind not in ("cyclic", "symmetric"):
        return f"progress measures are not defined for the {t.family!r} task family ({t.describe()})"
    return None


def grokked_step(run: Run) -> int | None:
    """The first checkpoint whose logged test accuracy reaches the run's `train.grok_threshold`."""
    threshold = run.config.train.grok_threshold
    acc = {r["step"]: r.get("test_acc") for r in run.metrics}
    return next((s for s in run.steps if (acc.get(s) or 0.0) >= threshold), None)


def reversed_checkpoints(run: Run):
    """(step, tensors) from the last checkpoint backwards, passing over (with a warning) those that fail
    verification; CheckpointError when none loads."""
    bad = []
    for step in reversed(run.steps):
        try:
            yield step, run.state_dict(step)
        except CheckpointError as e:
            bad.append(step)
            warnings.warn(f"skipping step {step}: {e}", stacklevel=user_stacklevel())
    raise CheckpointError(f"none of the {len(bad)} checkpoint(s) of {run.path} could be loaded")


def default_keys(run: Run, step: int | None = None) -> list:
    """Key frequencies (Z_p: `fourier.key_frequencies` of the number embedding) or key irreps (S_n:
    `irreps.key_irreps` of the logit similarities on all pairs) of a checkpoint, by default the last (the
    paper's notebook: its final, grokked and cleaned-up model). A run that has never grokked (no checkpoint
    with test accuracy >= `train.grok_threshold`) gets a warning: before the circuit forms, nearly every
    frequency carries some of the embedding and restricted and excluded loss say little. (The first grokked
    checkpoint is no better a default: cleanup has not yet removed the memorising frequencies there; on
    mod113 it gives 12 frequencies where the final checkpoint gives the circuit's few.) By default a last
    checkpoint that fails verification is passed over, with a warning, for the last one that loads."""
    s = run.config.task.structure()
    if step is None:
        if not run.steps:
            raise ValueError(f"{run.path} has no checkpoint yet: nothing to measure")
        step, params = next(reversed_checkpoints(run))
        if grokked_step(run) is None:
            warnings.warn(f"{run.path} has not grokked (test accuracy below {run.config.train.grok_threshold}); "
                          f"key components from its last checkpoint (step {step}) are unreliable: pass key_freqs",
                          stacklevel=user_stacklevel())
    else:
        params = run.state_dict(step)
    if s.kind == "cyclic":
        return fourier.key_frequencies(params["embed.weight"][:s.order], s.order)
    task = run.task()
    with torch.no_grad():
        logits = models.fused_logits(params, run.config.model, task.tokens, (2,))[:, 0, :s.order]
    return irreps.key_irreps(irreps.logit_similarity(logits, task.labels[:, 0], s.degree), s.degree)


def measures(
    run: Run,
    steps: list[int] | None = None,
    key_freqs: list | None = None,
    *,
    progress: bool | None = None,
) -> CheckpointTable:
    """One row of progress measures per checkpoint of `run` (all of them by default).

    For modular runs `key_freqs` are frequencies; for permutation runs they are irreps, by name or
    partition. The default is `default_keys`: those of the last checkpoint, with a warning when the run has
    never grokked.
    """
    reason = why_not_measurable(run.config)
    if reason is not None:
        raise ValueError(reason)
    keys = default_keys(run) if key_freqs is None else list(key_freqs)
    basis = basis_for(run.config, keys)
    task = run.task()
    tokens, labels = task.tokens, task.labels[:, 0]

    def measure(step: int, params: dict[str, Tensor]) -> dict:
        return checkpoint_measures(params, run.config, tokens, labels, task.train_idx, task.test_idx, basis)

    return over_checkpoints(run, measure, steps, progress=progress,
                            meta={"key_freqs": basis.keys, "p": basis.n_answers, "family": basis.family})
