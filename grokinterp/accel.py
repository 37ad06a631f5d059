"""Accelerating (or removing) grokking.

Grokfast (Lee, Kang, Kim & Lee 2024, "Grokfast: Accelerated Grokking by Amplifying Slow Gradients"):
treat each parameter's gradient over the steps as a signal and add an amplified low-pass copy of it before
the optimizer step, g_hat(t) = g(t) + lamb * (h * g)(t).
- `GrokfastEMA(alpha, lamb)`: mu <- alpha mu + (1 - alpha) g, g_hat = g + lamb mu; on the first update mu
  is the gradient itself (their code; the paper's "mu <- theta_0" is a typo), so g_hat = (1 + lamb) g.
  Impulse response lamb (1 - alpha) alpha^t. Defaults alpha 0.98, lamb 2.0 (their `grokfast.py`).
- `GrokfastMA(window, lamb)`: the mean of the last `window` gradients, added only once the window is full
  (their default `warmup=True`), g_hat = g + lamb mean(Q). Defaults window 100, lamb 5.0.
Both are small gradient transforms with explicit state: `init(params) -> state` and
`update(grads, state) -> (new_grads, new_state)`, where `params`/`grads` map parameter names to tensors.
The state converts to and from flat tensors (`state_tensors` / `load_state`) so it is saved with the
optimizer state in a run's resume file and a resumed run is bitwise identical.

Omnigrok (Liu, Michaud & Tegmark 2023, "Omnigrok: Grokking Beyond Algorithmic Data"): grokking is tied to
the weight norm. `scale_init_` multiplies every initial weight by alpha (large alpha: memorise first, grok
late; alpha near the "Goldilocks" norm: no delay), `rescale_to_norm_` projects the weights back onto the
sphere of a fixed total L2 norm after each step (their constrained-norm experiment).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class GrokfastEMA:
    alpha: float = 0.98
    lamb: float = 2.0

    def init(self, params: dict[str, Tensor]) -> dict:
        return {"step": 0, "mu": {n: torch.zeros_like(p) for n, p in params.items()}}

    def update(self, grads: dict[str, Tensor], state: dict) -> tuple[dict[str, Tensor], dict]:
        first = state["step"] == 0
        mu = {n: g.detach().clone() if first else state["mu"][n] * self.alpha + g.detach() * (1 - self.alpha)
              for n, g in grads.items()}
        new = {n: g + self.lamb * mu[n] for n, g in grads.items()}
        return new, {"step": state["step"] + 1, "mu": mu}


@dataclass(frozen=True)
class GrokfastMA:
    window: int = 100
    lamb: float = 5.0

    def init(self, params: dict[str, Tensor]) -> dict:
        return {"step": 0, "queue": {n: torch.zeros((self.window, *p.shape), dtype=p.dtype, device=p.device)
                                     for n, p in params.items()}}

    def update(self, grads: dict[str, Tensor], state: dict) -> tuple[dict[str, Tensor], dict]:
        """Push the gradients into the window (a ring buffer, updated in place) and add lamb x its mean once
        it holds `window` gradients."""
        step = state["step"]
        slot = step % self.window
        for n, g in grads.items():
            state["queue"][n][slot] = g.detach()
        full = step + 1 >= self.window
        new = {n: g + self.lamb * state["queue"][n].mean(0) if full else g for n, g in grads.items()}
        return new, {"step": step + 1, "queue": state["queue"]}


def make_filter(cfg) -> GrokfastEMA | GrokfastMA | None:
    """The gradient filter of an `AccelConfig` (None for `grokfast = "none"`)."""
    if cfg.grokfast == "ema":
        return GrokfastEMA(cfg.alpha, cfg.lamb)
    if cfg.grokfast == "ma":
        return GrokfastMA(cfg.window, cfg.lamb)
    return None


_PREFIX = "grokfast."


def state_tensors(state: dict) -> dict[str, Tensor]:
    """A filter state as flat named tensors (for the run's resume file)."""
    out = {f"{_PREFIX}step": torch.tensor(state["step"], dtype=torch.int64)}
    for kind in ("mu", "queue"):
        for n, t in state.get(kind, {}).items():
            out[f"{_PREFIX}{kind}.{n}"] = t
    return out


def load_state(filt, params: dict[str, Tensor], tensors: dict[str, Tensor]) -> dict:
    """The filter state saved by `state_tensors` (a fresh one if the file has none, e.g. an older run)."""
    state = filt.init(params)
    if f"{_PREFIX}step" not in tensors:
        raise ValueError("the resume file has no Grokfast state (was this run started without accel.grokfast?)")
    state["step"] = int(tensors[f"{_PREFIX}step"])
    kind = "mu" if "mu" in state else "queue"
    for n, p in params.items():
        t = tensors[f"{_PREFIX}{kind}.{n}"]
        state[kind][n] = t.to(p.device).clone()
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


def weak_embedding(cfg) -> tuple[Tensor, int]:
    """(A, step): the weak run's embedding at its first checkpoint at or after test accuracy >=
    `accel.transfer_acc`; random with the same shape and scale when `accel.transfer_random`."""
    from grokinterp.config import ConfigError
    from grokinterp.runs import load_run

    a = cfg.accel
    try:
        weak = load_run(a.transfer_from)
    except (FileNotFoundError, ValueError) as e:
        raise ConfigError(f"accel.transfer_from: {e}") from None
    if weak.config.task != cfg.task:
        raise ConfigError(f"accel.transfer_from: the weak run at {a.transfer_from} was trained on another task "
                          f"({weak.config.task.describe()}, split seed {weak.config.task.seed})")
    reached = next((r["step"] for r in weak.metrics if r["test_acc"] >= a.transfer_acc), None)
    steps = [s for s in weak.steps if reached is not None and s >= reached]
    if not steps:
        raise ConfigError(f"accel.transfer_from: the weak run never reached test accuracy {a.transfer_acc} at a "
                          f"checkpoint (best {max((r['test_acc'] for r in weak.metrics), default=0):.3f})")
    A = weak.state_dict(steps[0])["embed.weight"].detach().clone()
    if a.transfer_random:
        g = torch.Generator().manual_seed(cfg.model.seed + 7)
        A = torch.randn(A.shape, generator=g, dtype=A.dtype) * A.std()
    return A, steps[0]


def random_b(A: Tensor, d_model: int, seed: int) -> Tensor:
    """B of A B: randn / sqrt(d_W), so that A B has about the scale of A."""
    g = torch.Generator().manual_seed(seed + 11)
    return torch.randn(A.shape[1], d_model, generator=g, dtype=A.dtype) / math.sqrt(A.shape[1])
