"""Weight-norm decay under weight decay (Liu, Michaud & Tegmark 2023, "Omnigrok: grokking beyond algorithmic
data", Sec. 3 and Fig. 3). Once the training loss is negligible its gradient no longer moves the weights, and
decoupled weight decay (AdamW: theta <- theta - eta lambda theta at every step) shrinks the total norm
w = ||theta||_2 geometrically:

    w(t) = w(t0) (1 - eta lambda)^(t - t0) = w(t0) exp(-gamma (t - t0)),   gamma = -ln(1 - eta lambda) ~ eta lambda,

so a model started above the Goldilocks norm w_c generalises after t ~ ln(w0 / w_c) / gamma steps.

`fit_norm_decay` fits ln w = a - gamma t by least squares over the steps where the model has fit its
training set and has not yet generalised (from the first step with train accuracy >= `fit_acc` to the first
with test accuracy >= `test_acc`, or the end), and the slope of ln w before and after that window. Where the
gradients are not small the law does not hold: during memorisation the norm grows (a negative gamma), and
once the model generalises the loss gradient pushes back and the norm levels off (gamma near 0). Adam's
update has a size of about eta per coordinate whatever the gradient's size, so its steps also add to the norm
(about eta^2 d / w per step for d weights in random directions); the fit's gamma / (eta lambda) says how much
of that there is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from jaxtyping import Real


@dataclass(frozen=True)
class NormDecayFit:
    """ln w(t) ~ intercept - gamma t over steps [start, end]; `predicted` = -ln(1 - lr wd)."""

    gamma: float
    intercept: float
    start: int
    end: int
    r2: float
    n_points: int
    predicted: float
    gamma_before: float | None  # slope of -ln w before the window (memorisation); None: too few points
    gamma_after: float | None  # after it (generalised)

    @property
    def ratio(self) -> float:
        """Fitted gamma over the decay-only prediction (1: weight decay alone moves the norm)."""
        return self.gamma / self.predicted if self.predicted > 0 else math.nan

    def line(self, steps) -> np.ndarray:
        """The fitted w(t) at `steps`."""
        return np.exp(self.intercept - self.gamma * np.asarray(steps, dtype=np.float64))


def _slope(t: np.ndarray, logw: np.ndarray) -> tuple[float, float, float] | None:
    """(gamma, intercept, R^2) of ln w = intercept - gamma t, or None with fewer than 3 points."""
    if len(t) < 3 or np.ptp(t) == 0:
        return None
    slope, intercept = np.polyfit(t, logw, 1)
    resid = logw - (intercept + slope * t)
    ss = float(((logw - logw.mean()) ** 2).sum())
    r2 = 1.0 - float((resid ** 2).sum()) / ss if ss > 0 else 1.0
    return float(-slope), float(intercept), r2


def fit_norm_decay(steps: Real[np.ndarray, " n"], weight_norm: Real[np.ndarray, " n"],
                   train_acc: Real[np.ndarray, " n"], test_acc: Real[np.ndarray, " n"], lr_wd: float, *,
                   fit_acc: float = 0.99, test_acc_threshold: float = 0.9) -> NormDecayFit | None:
    """Fit the exponential decay of the weight norm (see the module doc) from a run's logged rows; None when
    the training set is never fit or the window holds fewer than 3 rows."""
    t = np.asarray(steps, dtype=np.float64)
    logw = np.log(np.asarray(weight_norm, dtype=np.float64))
    train_ok = np.asarray(train_acc) >= fit_acc
    if not train_ok.any():
        return None
    i0 = int(np.argmax(train_ok))
    generalised = np.nonzero(np.asarray(test_acc) >= test_acc_threshold)[0]
    generalised = generalised[generalised > i0]
    i1 = int(generalised[0]) if len(generalised) else len(t) - 1
    fit = _slope(t[i0:i1 + 1], logw[i0:i1 + 1])
    if fit is None:
        return None
    before = _slope(t[:i0 + 1], logw[:i0 + 1])
    after = _slope(t[i1:], logw[i1:]) if i1 < len(t) - 1 else None
    return NormDecayFit(gamma=fit[0], intercept=fit[1], start=int(t[i0]), end=int(t[i1]), r2=fit[2],
                        n_points=i1 - i0 + 1, predicted=-math.log1p(-lr_wd) if lr_wd < 1 else math.inf,
                        gamma_before=before[0] if before else None, gamma_after=after[0] if after else None)
