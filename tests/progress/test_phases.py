"""Nanda et al.'s three phases (grokinterp.progress.phases) on planted curves."""

from __future__ import annotations

import math

import numpy as np

from grokinterp import progress


def test_phases_on_planted_curves():
    steps = np.arange(0, 2000, 100)
    p = 13
    test = np.full(len(steps), 1e-6)
    test[:4] = [2.5, 5.0, 9.0, 12.0]  # memorisation: test loss climbs to its peak at step 300
    test[4:9] = [11.0, 8.0, 4.0, math.log(p) - 0.1, 0.5]  # first below ln 13 at step 700
    test[9:12] = [1e-2, 1e-4, 3e-6]  # still settling; within 2x of 1e-6 from step 1200 on
    excluded = np.full(len(steps), 5.0)
    excluded[:11] = np.linspace(0.1, 20.0, 11)  # settles (within 2x of 5.0) from step 1100 on
    ph = progress.phases({"step": steps, "test_loss": test, "excluded_loss": excluded}, p=p)
    assert (ph.memorization_end, ph.circuit_formation_end, ph.cleanup_end) == (300, 700, 1200)
    assert ph["cleanup_end"] == 1200 and set(ph.as_dict()) == {"memorization_end", "circuit_formation_end",
                                                              "cleanup_end"}
    never = progress.phases({"step": steps, "test_loss": np.linspace(3, 9, len(steps))}, p=p)
    assert never.circuit_formation_end is None and never.cleanup_end is None
