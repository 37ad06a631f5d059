"""Progress measures over every checkpoint of a run (Nanda et al. 2023, "Progress measures for grokking via
mechanistic interpretability", section 5 and appendix C).

`measures(run)` evaluates every checkpoint on all p^2 inputs with the fused forward (a pure function of the
stacked checkpoint tensors) and returns a `ProgressTable`, one row per checkpoint:

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
default to those whose character cubes carry the final logits (`irreps.key_irreps`).

`phases(table)` splits training into memorisation, circuit formation and cleanup by the rules in its
docstring.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from grokinterp import models, scoring
from grokinterp.analysis import collapse, fourier, groups, induction, irreps, representation
from grokinterp.analysis import hessian as hessian_measures
from grokinterp.analysis import llc as llc_measures
from grokinterp.analysis import phases as phase_detect
from grokinterp.models import BUFFERS, architecture_of, fused_scored, is_trainable, weight_sq
from grokinterp.runs import Run
from grokinterp.tasks import Task, family_of
from grokinterp.train.allocator import keep_freed_memory

COLUMNS = (
    "step", "train_loss", "test_loss", "train_acc", "test_acc", "restricted_loss", "restricted_acc",
    "excluded_loss", "excluded_acc", "gini_W_E", "gini_W_L", "weight_sq", "weight_norm",
)


@dataclass(frozen=True)
class CheckpointTable:
    """The one table type of the over-checkpoint drivers (`measures`, `representation_table`, `head_scores`, and
    `over_checkpoints` for your own): one entry per checkpoint in every column, `step` first. A column holds
    a scalar per checkpoint, or an array of the same shape at every checkpoint (e.g. head scores, shape
    [n_steps, layer, head], with the axis names in `meta["axes"]`). Columns and metadata read as attributes
    too: `table.test_loss`, `table.key_freqs`."""

    columns: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        own = self.__dict__
        if name in own.get("columns", {}):
            return own["columns"][name]
        if name in own.get("meta", {}):
            return own["meta"][name]
        raise AttributeError(f"no column or metadata {name!r} (columns: {', '.join(own.get('columns', {}))}; "
                             f"metadata: {', '.join(own.get('meta', {}))})")

    def __len__(self) -> int:
        return len(self.columns["step"])

    def __iter__(self) -> Iterator[dict]:
        return iter(self.rows())

    @property
    def steps(self) -> np.ndarray:
        return self.columns["step"]

    def rows(self) -> list[dict]:
        """One dict per checkpoint; with array columns, one per checkpoint and array index (a long table with
        the index under the names of `meta["axes"]`)."""
        arrays = {k: v for k, v in self.columns.items() if v.ndim > 1}
        scalars = {k: v for k, v in self.columns.items() if v.ndim == 1}
        out = []
        for i in range(len(self)):
            base = {k: v[i].item() for k, v in scalars.items()}
            if not arrays:
                out.append(base)
                continue
            shape = next(iter(arrays.values())).shape[1:]
            axes = self.meta.get("axes", tuple(f"axis{j}" for j in range(len(shape))))
            for idx in np.ndindex(*shape):
                out.append({**base, **dict(zip(axes, idx)), **{k: v[(i, *idx)].item() for k, v in arrays.items()}})
        return out

    def first_step(self, column: str, above: float) -> int | None:
        """The first checkpoint step at which the scalar `column` exceeds `above`, or None."""
        hit = np.nonzero(self.columns[column] > above)[0]
        return int(self.steps[hit[0]]) if len(hit) else None

    def to_dict(self) -> dict[str, np.ndarray]:
        """Column name -> numpy array (copies)."""
        return {k: v.copy() for k, v in self.columns.items()}

    def to_pandas(self):
        """A pandas DataFrame of `rows()` (pandas is imported only here), with the metadata in `attrs`."""
        import pandas as pd

        df = pd.DataFrame(self.rows())
        df.attrs.update({k: list(v) if isinstance(v, tuple) else v for k, v in self.meta.items()})
        return df


ProgressTable = CheckpointTable  # the table of `measures` (meta: key_freqs, p, family)


def over_checkpoints(run: Run, measure: Callable[[int, dict[str, Tensor]], dict], steps: list[int] | None = None,
                     *, meta: dict | None = None, desc: str = "checkpoints",
                     progress: bool | None = None) -> CheckpointTable:
    """`measure(step, tensors) -> {column: value}` at every checkpoint of `run` (or `steps`), as one table.
    Checkpoints are loaded one at a time; one that fails verification is skipped with a warning."""
    from tqdm.auto import tqdm

    keep_freed_memory()  # each checkpoint reuses the last one's buffers
    steps = run.steps if steps is None else sorted(steps)
    rows = []
    with torch.no_grad():
        for step, tensors in tqdm(run.checkpoints(steps), total=len(steps), desc=desc, unit="ckpt",
                                  disable=None if progress is None else not progress, mininterval=1.0):
            rows.append({"step": step, **measure(step, tensors)})
    if not rows:
        raise ValueError(f"{run.path}: none of the {len(steps)} checkpoint(s) asked for could be loaded")
    cols = {"step": np.array([r["step"] for r in rows], dtype=np.int64)}
    for k in rows[0]:
        if k != "step":
            cols[k] = np.stack([np.asarray(r[k], dtype=np.float64) for r in rows])
    return CheckpointTable(cols, dict(meta or {}))


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
    return _measures_from_logits(logits, params, labels, train_idx, test_idx, basis)


def _measures_from_logits(logits, params, labels, train_idx, test_idx, basis: Basis) -> dict[str, float]:
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


def _checker_frame(filename: str) -> bool:
    """A frame of a runtime type checker's wrapper (jaxtyping's `@jaxtyped`, beartype's generated code,
    typeguard), which the test suite's import hook puts around every function of this package."""
    import os

    import jaxtyping

    packages = [os.path.dirname(jaxtyping.__file__)]
    for name in ("beartype", "typeguard"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            packages.append(os.path.dirname(module.__file__))
    return filename.startswith("<@beartype") or any(filename.startswith(p + os.sep) for p in packages)


def _user_stacklevel() -> int:
    """The `stacklevel` that makes a warning raised by the caller of this function name the first frame
    outside grokinterp and the type checkers' wrappers: the user's line, however deep the call came from
    (`warnings.warn(..., skip_file_prefixes=...)` does this from Python 3.12)."""
    import os

    import grokinterp

    package = os.path.dirname(grokinterp.__file__) + os.sep
    frame = sys._getframe(1)
    while frame.f_back is not None and _checker_frame(frame.f_code.co_filename):  # wrappers around this one
        frame = frame.f_back
    level = 1  # `frame` is the function that warns
    while frame.f_back is not None and (frame.f_code.co_filename.startswith(package)
                                        or _checker_frame(frame.f_code.co_filename)):
        frame, level = frame.f_back, level + 1
    return level


def default_keys(run: Run, step: int | None = None) -> list:
    """Key frequencies (Z_p: `fourier.key_frequencies` of the number embedding) or key irreps (S_n:
    `irreps.key_irreps` of the logit similarities on all pairs) of a checkpoint, by default the last (the
    paper's notebook: its final, grokked and cleaned-up model). A run that has never grokked (no checkpoint
    with test accuracy >= `train.grok_threshold`) gets a warning: before the circuit forms, nearly every
    frequency carries some of the embedding and restricted and excluded loss say little. (The first grokked
    checkpoint is no better a default: cleanup has not yet removed the memorising frequencies there; on
    mod113 it gives 12 frequencies where the final checkpoint gives the circuit's few.)"""
    s = run.config.task.structure()
    if step is None:
        step = run.steps[-1]
        if grokked_step(run) is None:
            warnings.warn(f"{run.path} has not grokked (test accuracy below {run.config.train.grok_threshold}); "
                          f"key components from its last checkpoint (step {step}) are unreliable: pass key_freqs",
                          stacklevel=_user_stacklevel())
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
) -> ProgressTable:
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


def symbol_embedding(run: Run, step: int) -> tuple[Float[Tensor, "n d"], int | None]:
    """The embedding rows of the operand symbols 0..n-1 of an addition or modular run, and its modulus."""
    return representation.operand_embedding(run.config.task, run.state_dict(step))


def representation_table(run: Run, steps: list[int] | None = None, delta: float = 0.01, *,
                         progress: bool | None = None) -> CheckpointTable:
    """Liu et al.'s representation measures (`analysis.representation.measures`: RQI on all pairs, effective
    loss on the training pairs, PCA entropy and effective dimension) at every checkpoint of an addition or
    modular run; `table.first_step("rqi", above=0.95)` is the paper's representation grokking time."""
    task = run.task()
    pairs = task.tokens[task.train_idx, :2]
    _, modulus = symbol_embedding(run, run.steps[0])

    def measure(step: int, params: dict[str, Tensor]) -> dict:
        E, _ = representation.operand_embedding(run.config.task, params)
        return representation.measures(E, pairs, modulus, delta)

    return over_checkpoints(run, measure, steps, desc="representation", progress=progress,
                            meta={"modulus": modulus})


def head_scores(run: Run, steps: list[int] | None = None, seq_len: int | None = None, n_seqs: int = 32,
                seed: int = 0, *, progress: bool | None = None) -> CheckpointTable:
    """`induction.head_scores` and `induction.copying_scores` at every checkpoint of `run` (the same probe
    throughout): columns of shape [n_steps, layer, head]."""
    from grokinterp.models import load_tensors_

    model = run.model(run.steps[0] if steps is None else sorted(steps)[0])

    def measure(step: int, params: dict[str, Tensor]) -> dict:
        load_tensors_(model, params)
        scores = induction.head_scores(model, seq_len, n_seqs, seed)
        scores["copying"] = induction.copying_scores(model)
        return {k: v.numpy() for k, v in scores.items()}

    return over_checkpoints(run, measure, steps, desc="head scores", progress=progress,
                            meta={"axes": ("layer", "head")})


def training_set(run: Run, max_examples: int | None = None) -> tuple[Task, Tensor, Tensor]:
    """(task, tokens, labels) of the run's training set (or its first `max_examples`)."""
    task = run.task()
    if len(task.train_idx) == 0:
        raise ValueError(f"{run.path}: an infinite-data run has no training set to measure")
    idx = task.train_idx if max_examples is None else task.train_idx[:max_examples]
    return task, task.tokens[idx], task.labels[idx]


def training_loss_fn(run: Run, params: dict[str, Tensor], max_examples: int | None = None,
                     data: tuple[Task, Tensor, Tensor] | None = None, dtype: torch.dtype = torch.float64):
    """(loss_fn, trainable): the run's training loss (its `train.loss`, fused engine on the scored rows,
    parameters in `dtype`, on `data`, by default its `training_set`) as a function of the trainable tensors,
    the others held at `params`. `loss_fn(trainable, idx)` is the mean over the examples `idx` only (an int64
    tensor of row indices into `data`; what minibatch SGLD calls)."""
    cfg = run.config
    task, xb, yb = training_set(run, max_examples) if data is None else data
    p64 = {k: v.to(dtype) if v.is_floating_point() else v for k, v in params.items()}
    names = [k for k in p64 if k not in BUFFERS and p64[k].is_floating_point() and is_trainable(k, cfg.model.biases)]
    fixed = {k: v for k, v in p64.items() if k not in names}

    if task.targets is not None:  # a regression: squared error against the rows' targets (labels are row ids)
        targets = task.targets.to(dtype)

        def regression_loss(trainable: dict[str, Tensor], idx: Tensor | None = None) -> Tensor:
            x, y = (xb, yb) if idx is None else (xb[idx], yb[idx])
            logits = models.fused_logits({**fixed, **trainable}, cfg.model, x, task.answer_pos)
            return (logits[:, 0].to(dtype) - targets[y[:, 0]]).pow(2).mean()

        return regression_loss, {k: p64[k] for k in names}

    def loss_fn(trainable: dict[str, Tensor], idx: Tensor | None = None) -> Tensor:
        params = {**fixed, **trainable}
        if idx is None:
            return fused_scored(params, cfg.model, xb, task.answer_pos, yb).loss(cfg.train.loss)
        # all logits of the batch, masked in the loss: which rows are scored may not depend on vmapped data
        logits = models.fused_logits(params, cfg.model, xb[idx], task.answer_pos)
        return scoring.task_loss(logits, yb[idx], cfg.train.loss)

    return loss_fn, {k: p64[k] for k in names}


def hessian(run: Run, steps: list[int] | None = None, *, n_samples: int = 32, max_iter: int = 50,
            max_examples: int | None = None, seed: int = 0, progress: bool | None = None) -> CheckpointTable:
    """The training loss's Hessian at every checkpoint (`analysis.hessian`): `top_eigenvalue` (power
    iteration, at most `max_iter` Hessian-vector products) and `trace` (Hutchinson, `n_samples` probes),
    over the trainable parameters, on the training set (or its first `max_examples`)."""

    data = training_set(run, max_examples)

    def measure(step: int, params: dict[str, Tensor]) -> dict:
        loss_fn, trainable = training_loss_fn(run, params, data=data)
        top = hessian_measures.top_eigenvalue(loss_fn, trainable, max_iter=max_iter, seed=seed)
        return {"top_eigenvalue": top.value, "trace": hessian_measures.trace(loss_fn, trainable,
                                                                              n_samples=n_samples, seed=seed)}

    return over_checkpoints(run, measure, steps, desc="hessian", progress=progress)


def llc(run: Run, steps: list[int] | None = None, *, seed: int = 0, num_chains: int = 2, num_draws: int = 400,
        num_burnin: int = 200, epsilon: float = 1e-4, gamma: float = 100.0, nbeta: float | None = None,
        batch_size: int | None = 512, max_examples: int | None = None, dtype: torch.dtype = torch.float32,
        progress: bool | None = None) -> CheckpointTable:
    """The local learning coefficient at every checkpoint (`analysis.llc.estimate`: localised SGLD on the
    training loss in `dtype`, n the training-set size, n beta = n / log n by default, minibatches of
    `batch_size` as devinterp samples, full batch when None or when the training set is no larger). Columns:
    `llc` (mean over chains), `llc_std` (their spread), `llc_init_loss` (L_n at the checkpoint) and
    `llc_diverged` (1 where a chain's loss went non-finite: lower `epsilon`). Each checkpoint costs
    num_chains x (num_burnin + num_draws) gradients on a batch, the chains vmapped together;
    `meta["seconds_per_checkpoint"]` says what that came to."""
    data = training_set(run, max_examples)
    n = len(data[2])
    batch = None if batch_size is None or batch_size >= n else batch_size
    clock = []

    def measure(step: int, params: dict[str, Tensor]) -> dict:
        t = time.perf_counter()
        loss_fn, trainable = training_loss_fn(run, params, data=data, dtype=dtype)
        est = llc_measures.estimate(loss_fn, trainable, n, seed=seed,
                                    num_chains=num_chains, num_draws=num_draws, num_burnin=num_burnin,
                                    epsilon=epsilon, gamma=gamma, nbeta=nbeta, batch_size=batch)
        clock.append(time.perf_counter() - t)
        return {"llc": est.mean, "llc_std": est.std, "llc_init_loss": est.init_loss,
                "llc_diverged": float(est.diverged)}

    table = over_checkpoints(run, measure, steps, desc="llc", progress=progress)
    meta = {"n": n, "nbeta": llc_measures.default_nbeta(n) if nbeta is None else nbeta, "epsilon": epsilon,
            "gamma": gamma, "num_chains": num_chains, "num_draws": num_draws, "num_burnin": num_burnin,
            "batch_size": batch, "seconds_per_checkpoint": float(np.mean(clock))}
    return CheckpointTable(table.columns, meta)


def softmax_collapse(run: Run, steps: list[int] | None = None, *, dtype: torch.dtype = torch.float32,
                     progress: bool | None = None) -> CheckpointTable:
    """Prieto et al.'s softmax collapse at every checkpoint (`analysis.collapse`): `softmax_collapse` and
    `zero_loss_fraction` of the training-set predictions (scored answer positions), in `dtype`."""
    cfg = run.config
    task, xb, yb = training_set(run)
    scored = yb >= 0

    def measure(step: int, params: dict[str, Tensor]) -> dict:
        logits = models.fused_logits(params, cfg.model, xb, task.answer_pos)[scored]
        return {"softmax_collapse": collapse.softmax_collapse(logits, dtype),
                "zero_loss_fraction": collapse.zero_loss_fraction(logits, yb[scored], dtype)}

    return over_checkpoints(run, measure, steps, desc="softmax collapse", progress=progress)


@dataclass(frozen=True)
class Phases:
    """Step boundaries of the three phases of Nanda et al. (memorisation, circuit formation, cleanup)."""

    memorization_end: int | None
    circuit_formation_end: int | None
    cleanup_end: int | None
    rules: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, key: str) -> int | None:
        return getattr(self, key)

    def as_dict(self) -> dict[str, int | None]:
        return {k: getattr(self, k) for k in ("memorization_end", "circuit_formation_end", "cleanup_end")}


def _settled_index(y: np.ndarray, start: int, factor: float) -> int | None:
    """First index >= start after which every value stays within `factor` of the final value."""
    final = y[-1]
    if not np.isfinite(final) or final <= 0:
        return None
    ratio = np.maximum(y / final, final / np.maximum(y, 1e-300))
    outside = np.nonzero(ratio[start:] > factor)[0]
    idx = start if len(outside) == 0 else start + int(outside[-1]) + 1
    return idx if idx < len(y) - 1 else None  # settling at the very last point is not settling


@dataclass(frozen=True)
class PhaseChanges:
    """Phase changes of a digits or sequences run (`grokinterp.analysis.phases`): the test loss, each
    answer position's test loss (digits), bumps on the train loss, and optionally the top induction
    head's score."""

    total: phase_detect.Transition | None
    per_position: list[phase_detect.Transition | None]
    train_bumps: list[phase_detect.Bump]
    induction: phase_detect.Transition | None = None
    induction_head: tuple[int, int] | None = None

    def as_dict(self) -> dict:
        def d(t):
            return None if t is None else t.as_dict()

        return {"total": d(self.total), "per_position": [d(t) for t in self.per_position],
                "train_bumps": [b.as_dict() for b in self.train_bumps], "induction": d(self.induction),
                "induction_head": self.induction_head}


def phase_changes(run: Run, head_table: CheckpointTable | None = None) -> PhaseChanges:
    """Phase changes of a digits/sequences run from its logged metrics (and, given its `head_scores` table,
    of its top induction head's score)."""
    rows = run.metrics
    steps = [r["step"] for r in rows]
    total = phase_detect.detect_transition(steps, [r["test_loss"] for r in rows])
    per_position = []
    if rows and "test_loss_pos" in rows[0]:
        losses = np.array([r["test_loss_pos"] for r in rows])
        per_position = [phase_detect.detect_transition(steps, losses[:, j]) for j in range(losses.shape[1])]
    bumps = phase_detect.detect_bumps(steps, [r["train_loss"] for r in rows])
    induction_t, head = None, None
    if head_table is not None:
        head = induction.top_head(head_table["induction"][-1])
        induction_t = phase_detect.detect_transition(head_table.steps, head_table["induction"][:, head[0], head[1]],
                                                     log=False, min_change=0.2)
    return PhaseChanges(total, per_position, bumps, induction_t, head)


def phases(table, *, p: int | None = None, settle_factor: float = 2.0) -> Phases | PhaseChanges:
    """Memorisation / circuit formation / cleanup boundaries from a progress table.

    `table` is a `ProgressTable` or any mapping of column name -> sequence with `step`, `test_loss` and
    (optionally) `excluded_loss`; for a mapping pass `p` (else the initial test loss stands in for ln p).
    Given a `Run` of the digits or sequences families, returns its `phase_changes` instead (these tasks
    have phase changes rather than the three phases of grokking).
    Rules (boundaries are checkpoint steps; None when not reached):

    - memorization_end: the step of the test-loss peak. Train loss is already near zero there (the
      training set is memorised) and from then on the generalising circuit lowers the test loss
      (Nanda et al.'s 1.4k boundary sits at their test-loss peak, as does the TL demo's 1.5k).
    - circuit_formation_end: the first step after that with test loss below ln(p), the loss of a
      uniform guess over the p answers: the circuit now beats chance on unseen pairs and the steep fall
      of grokking begins (the TL demo's 13.3k boundary is its ln(113) crossing).
    - cleanup_end: the first step after circuit formation from which both the test loss and the
      excluded loss stay within `settle_factor` of their final values for the rest of the run (weight
      decay has finished removing the memorising components). None if they settle only at the end.
    """
    if isinstance(table, Run):
        if family_of(table.config.task).kind == "sampled":
            return phase_changes(table)
        table = measures(table, progress=False)
    cols = table.columns if isinstance(table, CheckpointTable) else table
    steps = np.asarray(cols["step"])
    test = np.asarray(cols["test_loss"], dtype=np.float64)
    p = table.meta.get("p") if isinstance(table, CheckpointTable) else p
    chance = math.log(p) if p else None
    rules = {
        "memorization_end": "step of the maximum test loss",
        "circuit_formation_end": "first later step with test loss < ln(p)",
        "cleanup_end": f"first later step after which test and excluded loss stay within {settle_factor}x of final",
    }
    if len(steps) == 0:
        return Phases(None, None, None, rules)
    i_mem = int(np.argmax(test))
    if chance is None:  # a plain mapping: take p from the initial test loss, ~ln(p) at init
        chance = float(test[0])
    below = np.nonzero(test[i_mem:] < chance)[0]
    if len(below) == 0:
        return Phases(int(steps[i_mem]), None, None, rules)
    i_circ = i_mem + int(below[0])
    ends = [_settled_index(test, i_circ, settle_factor)]
    if "excluded_loss" in cols:
        ends.append(_settled_index(np.asarray(cols["excluded_loss"], dtype=np.float64), i_circ, settle_factor))
    i_clean = None if any(e is None for e in ends) else max(ends)
    return Phases(int(steps[i_mem]), int(steps[i_circ]), None if i_clean is None else int(steps[i_clean]), rules)
