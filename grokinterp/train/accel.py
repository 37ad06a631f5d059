"""Accelerating (or removing) grokking.

Grokfast (Lee, Kang, Kim & Lee 2024, "Grokfast: Accelerated Grokking by Amplifying Slow Gradients"):
treat each parameter's gradient over the steps as a signal and add an amplified low-pass copy of it before
the optimizer step, g_hat(t) = g(t) + lamb * (h * g)(t).
- `GrokfastEMA(alpha, lamb)`: mu <- alpha mu + (1 - alpha) g, g_hat = g + lamb mu; on the first update mu
  is the gradient itself (their code; the paper's "mu <- theta_0" is a typo), so g_hat = (1 + lamb) g.
  Impulse response lamb (1 - alpha) alpha^t. Defaults alpha 0.98, lamb 2.0 (their `grokfast.py`).
- `GrokfastMA(window, lamb, warmup)`: their `gradfilter_ma`. Each parameter has its own window Q of its last
  `window` gradients (their `deque(maxlen=window)`), pushed only at the steps where it has a gradient;
  g_hat = g + lamb mean(Q), Q including g. With `warmup=True` (their default) g_hat = g until Q is full;
  with `warmup=False` the mean of the gradients held so far is added from the first step (g_hat = (1 + lamb) g
  then). Defaults window 100, lamb 5.0.
Both are small gradient transforms with explicit state: `init(params) -> state` and
`update(grads, state) -> (new_grads, new_state)`, where `params`/`grads` map parameter names to tensors.
The state converts to and from flat tensors (`state_tensors` / `load_state`) so it is saved with the
optimizer state in a run's resume file and a resumed run is bitwise identical.

Omnigrok (Liu, Michaud & Tegmark 2023, "Omnigrok: Grokking Beyond Algorithmic Data"): grokking is tied to
the weight norm. `scale_init_` multiplies every initial weight by alpha (large alpha: memorise first, grok
late; alpha near the "Goldilocks" norm: no delay), `rescale_to_norm_` projects the weights back onto the
sphere of a fixed total L2 norm after each step (their constrained-norm experiment).

⊥Grad (Prieto, Barsbey, Mediano & Birdal 2025, "Grokking at the edge of numerical stability"): without
weight decay, cross-entropy keeps lowering the loss by scaling the weights up along their own direction
("naive loss minimisation") until softmax collapses. `orthogonal_gradient` removes that direction from
each parameter's gradient, g_perp = g - (w.g / w.w) w, and rescales g_perp to the norm of g, as their
`OrthoGrad` does (`accel.orthogonal_grad = true` applies it to every trainable tensor before AdamW).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor


@dataclass(frozen=True)
class GrokfastEMA:
    alpha: float = 0.98
    lamb: float = 2.0

    def init(self, params: dict[str, Tensor]) -> dict:
        return {"step": 0, "mu": {n: torch.zeros_like(p) for n, p in params.items()}}

    def update(self, grads: dict[str, Tensor], state: dict) -> tuple[dict[str, Tensor], dict]:
        """mu <- alpha mu + (1 - alpha) g (mu = g on the first update), g_hat = g + lamb mu, for the parameters in
        `grads`; the mu of a parameter without a gradient this step is kept as it is (as in their code). A
        parameter whose first gradient comes after the first update starts from mu = 0 (their code has no mu
        for it and fails)."""
        first = state["step"] == 0
        mu = dict(state["mu"])
        for n, g in grads.items():
            mu[n] = g.detach().clone() if first else state["mu"][n] * self.alpha + g.detach() * (1 - self.alpha)
        new = {n: g + self.lamb * mu[n] for n, g in grads.items()}
        return new, {"step": state["step"] + 1, "mu": mu}


@dataclass(frozen=True)
class GrokfastMA:
    """Grokfast-MA (their `gradfilter_ma`, filter_type "mean", trigger off): a window per parameter.

    State: "step" (updates so far), "queue" {name: (window, *shape) ring buffer} and "count" {name: int, the
    gradients that parameter has pushed}; its gradient number c (0-based) sits in slot c % window, so the
    first min(count, window) slots are the ones held.
    """

    window: int = 100
    lamb: float = 5.0
    warmup: bool = True

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"GrokfastMA window must be >= 1, got {self.window}")

    def init(self, params: dict[str, Tensor]) -> dict:
        return {"step": 0,
                "queue": {n: torch.zeros((self.window, *p.shape), dtype=p.dtype, device=p.device)
                          for n, p in params.items()},
                "count": {n: 0 for n in params}}

    def update(self, grads: dict[str, Tensor], state: dict) -> tuple[dict[str, Tensor], dict]:
        """For each parameter in `grads`: push g into its window (the ring buffer, written in place), then
        g_hat = g + lamb x the mean of the gradients its window holds, once it holds `window` of them (warmup)
        or from its first gradient (warmup=False); g_hat = g while warming up. A parameter missing from
        `grads` (no gradient at this step) is neither pushed nor counted, so its window keeps its own last
        `window` gradients."""
        count = dict(state["count"])
        new = {}
        for n, g in grads.items():
            q = state["queue"][n]
            q[count[n] % self.window] = g.detach()
            count[n] += 1
            held = min(count[n], self.window)
            new[n] = g if self.warmup and held < self.window else g + self.lamb * q[:held].mean(0)
        return new, {"step": state["step"] + 1, "queue": state["queue"], "count": count}


def make_filter(cfg) -> GrokfastEMA | GrokfastMA | None:
    """The gradient filter of an `AccelConfig` (None for `grokfast = "none"`)."""
    if cfg.grokfast == "ema":
        return GrokfastEMA(cfg.alpha, cfg.lamb)
    if cfg.grokfast == "ma":
        return GrokfastMA(cfg.window, cfg.lamb, warmup=getattr(cfg, "warmup", True))
    return None


_PREFIX = "grokfast."


def state_tensors(state: dict) -> dict[str, Tensor]:
    """A filter state as flat named tensors (for the run's resume file): `grokfast.step`, then
    `grokfast.mu.<name>` (EMA) or `grokfast.queue.<name>` and `grokfast.count.<name>` (int64, MA)."""
    out = {f"{_PREFIX}step": torch.tensor(state["step"], dtype=torch.int64)}
    for kind in ("mu", "queue"):
        for n, t in state.get(kind, {}).items():
            out[f"{_PREFIX}{kind}.{n}"] = t
    for n, c in state.get("count", {}).items():
        out[f"{_PREFIX}count.{n}"] = torch.tensor(c, dtype=torch.int64)
    return out


def load_state(filt, params: dict[str, Tensor], tensors: dict[str, Tensor]) -> dict:
    """The filter state saved by `state_tensors`.

    An MA state saved before windows were kept per parameter has no `grokfast.count.*`: every parameter then
    pushed at every step into slot step % window, so its count is the step.
    """
    state = filt.init(params)
    if f"{_PREFIX}step" not in tensors:
        raise ValueError("the resume file has no Grokfast state (was this run started without accel.grokfast?)")
    state["step"] = int(tensors[f"{_PREFIX}step"])
    kind = "mu" if "mu" in state else "queue"
    for n, p in params.items():
        t = tensors[f"{_PREFIX}{kind}.{n}"]
        state[kind][n] = t.to(p.device).clone()
        if "count" in state:
            c = tensors.get(f"{_PREFIX}count.{n}")
            state["count"][n] = state["step"] if c is None else int(c)
    return state


def total_norm(params: dict[str, Tensor]) -> float:
    return math.sqrt(sum(float((p.detach().double() ** 2).sum()) for p in params.values()))


@torch.no_grad()
def scale_init_(params: dict[str, Tensor], alpha: float) -> None:
    """Multiply every tensor by alpha (Omnigrok's initialisation scale)."""
    for p in params.values():
        p.mul_(alpha)


@torch.no_grad()
def rescale_to_norm_(params: dict[str, Tensor], norm: float) -> None:
    """Rescale all tensors together so that their total L2 norm is `norm`."""
    current = total_norm(params)
    if current > 0:
        for p in params.values():
            p.mul_(norm / current)


# ------------------------------------------------------------------------------------------- GrokTransfer
# Xu, Ni, Wang & Hu 2025, "Let Me Grok for You: Accelerating Grokking via Embedding Transfer from a Weaker
# Model": train a weak model (e.g. a PairMLP with a 4-d embedding) until it generalises a little, then start
# the target's embedding as A B with A the weak embedding (d_vocab x d_W) and B random (d_W x d_model), both
# trainable ("factored"), or as the single matrix A B ("merged").


def weak_embedding(cfg) -> tuple[Tensor, int | None]:
    """(A, step): the weak run's input embedding (one row per token or input feature, whatever its architecture:
    `Architecture.input_embedding`) at its first checkpoint at or after test accuracy >= `accel.transfer_acc`, or
    at step STEP for `accel.transfer_from` "RUN@STEP";
    random with the same shape and scale when `accel.transfer_random`. For `accel.transfer_from` "pca:K" or
    "lda[:K]", the classical embedding of the training inputs instead (`classical_embedding`; step None)."""
    from grokinterp.config import ConfigError, run_at
    from grokinterp.models import architecture_of
    from grokinterp.runs.run import load_run
    from grokinterp.train.initfrom import checkpoint_step

    a = cfg.accel
    classical = a.classical_transfer()
    if classical is not None:
        from grokinterp.tasks import make_task

        task = make_task(cfg.task)
        x = task.tokens[task.train_idx].to(torch.float64)
        A = classical_embedding(x, task.labels[task.train_idx, 0], *classical)
        if a.transfer_random:
            g = torch.Generator().manual_seed(cfg.model.seed + 7)
            A = torch.randn(A.shape, generator=g, dtype=A.dtype) * A.std()
        return A.to(torch.float32), None
    path, at_step = run_at(a.transfer_from)
    try:
        weak = load_run(path)
    except (FileNotFoundError, ValueError) as e:
        raise ConfigError(f"accel.transfer_from: {e}") from None
    if weak.config.task != cfg.task:
        raise ConfigError(f"accel.transfer_from: the weak run at {path} was trained on another task "
                          f"({weak.config.task.describe()}, split seed {weak.config.task.seed})")
    if at_step is not None:  # RUN@STEP: that checkpoint, whatever its accuracy (Xu et al.'s FNN targets)
        steps = [checkpoint_step(weak.steps, path, at_step, "accel.transfer_from")]
    else:
        reached = next((r["step"] for r in weak.metrics if r["test_acc"] >= a.transfer_acc), None)
        steps = [s for s in weak.steps if reached is not None and s >= reached]
    if not steps:
        raise ConfigError(f"accel.transfer_from: the weak run never reached test accuracy {a.transfer_acc} at a "
                          f"checkpoint (best {max((r['test_acc'] for r in weak.metrics), default=0):.3f})")
    arch = architecture_of(weak.config.model)
    if arch.embedding is None:
        raise ConfigError(f"accel.transfer_from: the weak run at {path} has no input embedding to "
                          f"transfer (model.arch={weak.config.model.arch!r})")
    A = arch.input_embedding(weak.state_dict(steps[0])).detach().clone()
    if a.transfer_random:
        g = torch.Generator().manual_seed(cfg.model.seed + 7)
        A = torch.randn(A.shape, generator=g, dtype=A.dtype) * A.std()
    return A, steps[0]


def classical_embedding(x: Float[Tensor, "n d_in"], y: Int[Tensor, " n"], kind: str,
                        k: int | None) -> Float[Tensor, "d_in k"]:
    """A classical embedding of the inputs `x` (one row per training example), one row per input feature, as a
    weak model's first layer would be (the question GrokTransfer's reviewers asked: does it do as well?):

    - "pca": the top `k` principal directions of the centred inputs (right singular vectors), each scaled by its
      standard deviation sigma_i / sqrt(n), so that A's scale follows the data's;
    - "lda": the discriminant axes of scikit-learn's `LinearDiscriminantAnalysis` (`scalings_`), at most
      min(k, classes - 1, d_in) of them, each scaled to unit norm and then by the spread of the projections.
    """
    if kind == "pca":
        xc = x - x.mean(0)
        _, s, vt = torch.linalg.svd(xc, full_matrices=False)
        k = min(k, vt.shape[0])
        return vt[:k].T * (s[:k] / math.sqrt(len(x)))
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    n_classes = len(torch.unique(y))
    m = min(k or n_classes - 1, n_classes - 1, x.shape[1])
    lda = LinearDiscriminantAnalysis(n_components=m, solver="svd").fit(x.numpy(), y.numpy())
    axes = torch.from_numpy(lda.scalings_[:, :m]).to(x.dtype)
    axes = axes / axes.norm(dim=0, keepdim=True)
    return axes * (x - x.mean(0)).matmul(axes).std(0)


def random_b(A: Tensor, d_model: int, seed: int) -> Tensor:
    """B of A B: randn / sqrt(d_W), so that A B has about the scale of A."""
    g = torch.Generator().manual_seed(seed + 11)
    return torch.randn(A.shape[1], d_model, generator=g, dtype=A.dtype) / math.sqrt(A.shape[1])


def orthogonal_gradient(grad: Tensor, param: Tensor) -> Tensor:
    """⊥Grad: `grad` without its component along `param` (both flattened), rescaled to the norm of `grad`."""
    g, w = grad.reshape(-1), param.detach().reshape(-1)
    g_perp = g - (torch.dot(w, g) / (torch.dot(w, w) + 1e-30)) * w
    return (g_perp * (g.norm() / (g_perp.norm() + 1e-30))).reshape(grad.shape)
