"""Phase classification of finished runs (Liu et al. 2022, Table 1) on synthetic curves of each kind."""

from __future__ import annotations

import numpy as np
import pytest

from grokinterp.analysis.phases import PHASES, classify, phase_of

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


@pytest.mark.parametrize("kind", PHASES)
def test_synthetic_curves_land_in_their_phase(kind):
    train, test = curves(kind)
    assert classify(train, test, STEPS) == kind


def test_threshold_steps_gap_and_budget():
    train, test = curves("grokking")
    r = phase_of(train, test, STEPS)
    assert r.train_step == pytest.approx(720, abs=10) and 6000 < r.test_step < 6400
    assert classify(train, test, STEPS, gap=10_000) == "comprehension"  # the gap decides
    assert classify(train, test, STEPS, budget=5000) == "memorization"  # test never reached within the budget
    assert classify(train, test, STEPS, threshold=0.99) == "memorization"  # test tops out at 0.98
    assert classify(0.5 * train, test, STEPS) == "confusion"
    # test reached but train not: the paper leaves it unassigned, its code says confusion
    assert classify(test * 0.5, train, STEPS) == "confusion"


def test_bad_shapes():
    with pytest.raises(ValueError, match="1-D"):
        classify([0.1, 0.2], [0.1], [0, 1])
