"""Liu et al.'s four learning regimes (their Table 1 calls them "phases"; here "phase" is kept for Nanda et al.'s
phases and for phase changes, `grokinterp.progress.phases`).

`classify(train_acc, test_acc, steps)` puts a finished run into one of the four regimes of Liu et al. 2022
("Towards Understanding Grokking: An Effective Theory of Representation Learning", Table 1), by the rule of
their code (ejmichaud/grokking-squared, `toy/Figure5.ipynb`): with t_train, t_test the first steps at which
train / test accuracy reach `threshold` (default 0.9) within the step `budget` (default: the last step),
- comprehension: both reached and t_test - t_train <= `gap` (default 1,000 steps; t_test may come first),
  or test accuracy reached it and train accuracy did not;
- grokking: both reached and t_test - t_train > `gap` (strictly);
- memorization: train accuracy reached it, test accuracy did not;
- confusion: neither did.
Their code computes class 0 (comprehension) as `t_test - t_train < gap`, class 1 (grokking) as
`t_test - t_train > gap`, class 2 and 3 as above, and sums the four masks, so a run that no mask claims is
class 0: a delay of exactly `gap` (which Table 1's "< 10^3" would call grokking) and "test reached, train
not" (which Table 1 leaves unassigned) are both comprehension, there and here. One difference is left:
their code stores budget - 1 for a threshold never reached, so a first crossing at the run's very last step
counts as not reached there; here any crossing within the budget counts.
The paper's budget is 10^5 steps (its code uses 10^4, with gap 10^3 or 2 * 10^3); pass `budget` to compare
runs of different lengths.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

REGIMES = ("comprehension", "grokking", "memorization", "confusion")


@dataclass(frozen=True)
class RegimeResult:
    regime: str  # one of REGIMES
    train_step: int | None  # first step with train accuracy >= threshold (within the budget)
    test_step: int | None  # the same for test accuracy

    def as_dict(self) -> dict:
        return asdict(self)


def _first_at_least(steps: np.ndarray, values: np.ndarray, threshold: float) -> int | None:
    hit = np.flatnonzero(values >= threshold)
    return int(steps[hit[0]]) if len(hit) else None


def regime_of(train_acc, test_acc, steps, *, threshold: float = 0.9, gap: int = 1000,
             budget: int | None = None) -> RegimeResult:
    """`classify` with the two threshold steps (module docstring)."""
    x = np.asarray(steps, dtype=np.int64)
    tr = np.asarray(train_acc, dtype=np.float64)
    te = np.asarray(test_acc, dtype=np.float64)
    if not (x.shape == tr.shape == te.shape) or x.ndim != 1:
        raise ValueError(f"train_acc, test_acc and steps must be 1-D of one length, got {tr.shape}, {te.shape}, "
                         f"{x.shape}")
    if budget is not None:
        keep = x <= budget
        x, tr, te = x[keep], tr[keep], te[keep]
    t_train, t_test = _first_at_least(x, tr, threshold), _first_at_least(x, te, threshold)
    if t_train is not None and t_test is not None and t_test - t_train > gap:
        regime = "grokking"
    elif t_train is not None and t_test is None:
        regime = "memorization"
    elif t_train is None and t_test is None:
        regime = "confusion"
    else:  # both reached within `gap` steps (t_test may come first), or test reached and train not
        regime = "comprehension"
    return RegimeResult(regime, t_train, t_test)


def classify(train_acc, test_acc, steps, *, threshold: float = 0.9, gap: int = 1000,
             budget: int | None = None) -> str:
    """The regime of a finished run: "comprehension", "grokking", "memorization" or "confusion"."""
    return regime_of(train_acc, test_acc, steps, threshold=threshold, gap=gap, budget=budget).regime
