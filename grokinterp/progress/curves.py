"""Other curves over a run's checkpoints, each a `CheckpointTable`: Liu et al.'s representation measures
(`representation_table`), induction and copying head scores (`head_scores`), the training loss's Hessian
(`hessian`), the local learning coefficient (`llc`), Prieto et al.'s softmax collapse (`softmax_collapse`), and
for permutation runs the irrep fractions and logit similarities of Chughtai et al. (`irrep_traces`) and Power et
al.'s output-layer cosets (`coset_table`). The maths of each is in the `grokinterp.analysis` module it names."""

from __future__ import annotations

import time

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from grokinterp import models, scoring
from grokinterp.analysis import collapse, fourier, groups, induction, irreps, representation
from grokinterp.analysis.hessian import top_eigenvalue, trace
from grokinterp.analysis.llc import default_nbeta, estimate
from grokinterp.models import BUFFERS, architecture_of, fused_scored, is_trainable
from grokinterp.progress.table import CheckpointTable, over_checkpoints
from grokinterp.runs.run import Run
from grokinterp.tasks import Task


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
        top = top_eigenvalue(loss_fn, trainable, max_iter=max_iter, seed=seed)
        return {"top_eigenvalue": top.value, "trace": trace(loss_fn, trainable,
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
        est = estimate(loss_fn, trainable, n, seed=seed,
                                    num_chains=num_chains, num_draws=num_draws, num_burnin=num_burnin,
                                    epsilon=epsilon, gamma=gamma, nbeta=nbeta, batch_size=batch)
        clock.append(time.perf_counter() - t)
        return {"llc": est.mean, "llc_std": est.std, "llc_init_loss": est.init_loss,
                "llc_diverged": float(est.diverged)}

    table = over_checkpoints(run, measure, steps, desc="llc", progress=progress)
    meta = {"n": n, "nbeta": default_nbeta(n) if nbeta is None else nbeta, "epsilon": epsilon,
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


MAX_TRACE_STEPS = 60  # checkpoints sampled for the per-step irrep curves


def output_rows(params: dict[str, torch.Tensor], n_answers: int,
                neuron_logit_map: bool = True) -> dict[str, np.ndarray]:
    """The matrices with one row per group element: W_E (embedding), W_U (unembedding rows, the 'output
    layer' of Power et al.) and, with `neuron_logit_map` (the TL-native transformer), W_L = W_U^T W_out."""
    if not neuron_logit_map:  # e.g. Power et al.'s two post-LayerNorm layers: no single neuron-logit map
        mats = {"W_E": params["embed.weight"][:n_answers], "W_U": params["unembed.weight"][:n_answers]}
    else:
        W_E, W_L = fourier.weights_from_state(params, n_answers)
        mats = {"W_E": W_E, "W_U": params["unembed.weight"][:n_answers], "W_L": W_L}
    return {k: v.detach().cpu().numpy().astype(np.float64) for k, v in mats.items()}


def sampled_steps(run: Run, k: int = MAX_TRACE_STEPS) -> list[int]:
    """At most `k` of the run's checkpoint steps, evenly spread, first and last included."""
    steps = run.steps
    if len(steps) <= k:
        return list(steps)
    idx = np.unique(np.round(np.linspace(0, len(steps) - 1, k)).astype(int))
    return [steps[i] for i in idx]


def irrep_traces(run: Run, steps: list[int]) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """Per checkpoint: irrep fractions of W_E, W_U and W_L, and the logit similarity of every irrep."""
    t = run.config.task
    task = run.task()
    fracs: dict[str, dict[str, list[float]]] = {}
    sims: dict[str, list[float]] = {}
    with torch.no_grad():
        for step in steps:
            params = run.state_dict(step)
            for name, m in output_rows(params, t.n_answers, architecture_of(run.config.model).tl_native).items():
                for irrep, f in groups.irrep_fractions(m, t.n).items():
                    fracs.setdefault(name, {}).setdefault(irrep, []).append(f)
            first = task.answer_pos[:1]  # the answer (Power et al.'s format also scores the closing <eos>)
            logits = models.fused_logits(params, run.config.model, task.tokens, first)[:, 0, :t.n_answers]
            for irrep, s in irreps.logit_similarity(logits, task.labels[:, 0], t.n).items():
                sims.setdefault(irrep, []).append(s)
    return ({k: {i: np.array(v) for i, v in d.items()} for k, d in fracs.items()},
            {i: np.array(v) for i, v in sims.items()})


def coset_table(run: Run, steps: list[int] | None = None, *, progress: bool | None = None) -> CheckpointTable:
    """Power et al.'s output-layer cosets at each checkpoint of a permutation run (`groups.coset_summary` of the
    unembedding rows W_U of the n! answer tokens): the best coset partition of S_n by pseudo-F, on S5 whether it
    is one of Power et al.'s D5 partitions and the best rank of those, and the share of W_U in each irrep."""
    t, arch = run.config.task, architecture_of(run.config.model)
    if not hasattr(t, "n") or not arch.unembedding:
        raise ValueError(f"coset_table reads the unembedding rows of a permutation run; {run.path} is "
                         f"{t.describe()} on model.arch={run.config.model.arch!r}")

    def measure(step: int, params: dict[str, Tensor]) -> dict:
        return groups.coset_summary(output_rows(params, t.n_answers, neuron_logit_map=False)["W_U"], t.n)

    return over_checkpoints(run, measure, steps, desc="cosets", progress=progress)
