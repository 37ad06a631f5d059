"""Phase-change and bump detection on planted curves."""

from __future__ import annotations

import numpy as np
import pytest

from grokinterp.analysis import transitions


def _sigmoid_loss(steps, at, width, hi=4.5, lo=0.05):
    return lo + (hi - lo) / (1 + np.exp(np.minimum((steps - at) / width, 50)))


@pytest.mark.parametrize("at,width,every", [(780, 25, 10), (2300, 120, 50), (150, 5, 1)])
def test_planted_drop_is_found_within_the_sampling(at, width, every):
    steps = np.arange(0, 6000, every)
    rng = np.random.default_rng(at)
    loss = _sigmoid_loss(steps, at, width) * np.exp(0.03 * rng.normal(size=len(steps)))
    t = transitions.detect_transition(steps, loss)
    assert t is not None
    assert abs(t.step - at) <= max(every, width)
    assert t.start < t.step < t.end and t.start >= at - 6 * width - 2 * every and t.end <= at + 6 * width + 2 * every
    assert abs(t.midpoint - at) <= max(2 * every, width)
    assert t.before == pytest.approx(4.5, rel=0.1) and t.after == pytest.approx(0.05, rel=0.2)


def test_rising_score_and_flat_curves():
    steps = np.arange(0, 1000, 5)
    score = 0.05 + 0.9 / (1 + np.exp(-(steps - 400) / 10))
    t = transitions.detect_transition(steps, score, log=False)
    assert t is not None and abs(t.step - 400) <= 10 and t.after > t.before
    flat = 2.0 + 0.01 * np.random.default_rng(0).normal(size=len(steps))
    assert transitions.detect_transition(steps, flat) is None
    assert transitions.detect_transition(steps[:3], flat[:3]) is None


def test_distinct_planted_drops_get_distinct_steps():
    steps = np.arange(0, 3000, 10)
    found = [transitions.detect_transition(steps, _sigmoid_loss(steps, at, 40)).step for at in (300, 900, 1700)]
    assert found == sorted(found) and all(abs(f - a) <= 40 for f, a in zip(found, (300, 900, 1700)))


def test_bump_detector():
    steps = np.arange(0, 2000, 5)
    base = 4.0 * np.exp(-steps / 600) + 0.3
    bumped = base * (1 + 0.4 * np.exp(-((steps - 800) / 40) ** 2))
    bumps = transitions.detect_bumps(steps, bumped)
    assert len(bumps) == 1 and abs(bumps[0].peak - 800) <= 40 and bumps[0].start < 800 < bumps[0].end
    assert 0.05 < bumps[0].height <= np.log10(1.4)  # above the running minimum, which the falling base lowers
    assert transitions.detect_bumps(steps, base) == []
    rising_at_end = np.concatenate([base[:-20], base[-20] * np.linspace(1, 2, 20)])
    assert transitions.detect_bumps(steps, rising_at_end) == []  # a rise that never comes back is not a bump


def test_bad_input():
    with pytest.raises(ValueError, match="same length"):
        transitions.detect_transition([1, 2, 3], [1, 2])
