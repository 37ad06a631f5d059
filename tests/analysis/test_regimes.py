"""Phase classification of finished runs (Liu et al. 2022, Table 1) on synthetic curves of each kind."""

from __future__ import annotations

import numpy as np
import pytest

from grokinterp.analysis.regimes import REGIMES, classify, regime_of

STEPS = np.arange(0, 10_001, 10)


def _sigmoid(at: float, width: float = 100.0) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(STEPS - at) / width))


def curves(kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind == "comprehension":
        return _sigmoid(500), 0.95 * _sigmoid(800)
    if kind == "grokking":
        return _sigmoid(500), 0.05 + 0.93 * _sigmoid(6000)
    if kind == "memorization":
        return _sigmoid(500), 0.3 * _sigmoid(2000)
    return 0.5 * _sigmoid(500), 0.2 * _sigmoid(500)


@pytest.mark.parametrize("kind", REGIMES)
def test_synthetic_curves_land_in_their_phase(kind):
    train, test = curves(kind)
    assert classify(train, test, STEPS) == kind


def test_threshold_steps_gap_and_budget():
    train, test = curves("grokking")
    r = regime_of(train, test, STEPS)
    assert r.train_step == pytest.approx(720, abs=10) and 6000 < r.test_step < 6400
    assert classify(train, test, STEPS, gap=10_000) == "comprehension"  # the gap decides
    assert classify(train, test, STEPS, budget=5000) == "memorization"  # test never reached within the budget
    assert classify(train, test, STEPS, threshold=0.99) == "memorization"  # test tops out at 0.98
    assert classify(0.5 * train, 0.5 * test, STEPS) == "confusion"
    # test reached but train not: Table 1 leaves it unassigned, Liu et al.'s code puts it in class 0
    assert classify(0.5 * train, test, STEPS) == "comprehension"


def _steps_up(at: int | None, lo: float = 0.2, hi: float = 0.95) -> np.ndarray:
    """An accuracy curve that jumps from lo to hi at step `at` (never when None)."""
    return np.where(STEPS >= (np.inf if at is None else at), hi, lo)


@pytest.mark.parametrize(
    "t_train,t_test,kind",
    [
        (1000, 1990, "comprehension"),  # gap - 10
        (1000, 2000, "comprehension"),  # exactly gap: their code's `> gap` for grokking is false
        (1000, 2010, "grokking"),  # gap + 10
        (3000, 500, "comprehension"),  # test first: a negative delay
        (None, 500, "comprehension"),  # test reached, train never: class 0 in their code
        (None, 9000, "comprehension"),
        (1000, None, "memorization"),
        (None, None, "confusion"),
    ],
)
def test_planted_threshold_steps_at_the_boundaries(t_train, t_test, kind):
    r = regime_of(_steps_up(t_train), _steps_up(t_test), STEPS, gap=1000)
    assert (r.train_step, r.test_step) == (t_train, t_test)
    assert r.regime == kind


def test_gap_boundary_moves_with_gap_and_threshold_is_inclusive():
    train, test = _steps_up(1000), _steps_up(4000)
    assert classify(train, test, STEPS, gap=3000) == "comprehension"  # delay == gap
    assert classify(train, test, STEPS, gap=2990) == "grokking"  # delay > gap
    # accuracy exactly at the threshold counts as reached (>=)
    assert classify(_steps_up(1000, hi=0.9), _steps_up(4000, hi=0.9), STEPS, gap=2990) == "grokking"
    # a budget that cuts train's crossing off but keeps test's: test reached, train not
    assert regime_of(_steps_up(6000), _steps_up(3000), STEPS, budget=5000).regime == "comprehension"


def test_bad_shapes():
    with pytest.raises(ValueError, match="1-D"):
        classify([0.1, 0.2], [0.1], [0, 1])
