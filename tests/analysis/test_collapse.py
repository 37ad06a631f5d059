"""Softmax collapse (grokinterp.analysis.collapse, Prieto et al. 2025) on planted logits: it counts exactly the
rows whose other classes are absorbed in float32 (or float64), and those rows' loss is exactly 0."""

from __future__ import annotations

import torch

from grokinterp.analysis.collapse import softmax_collapse, zero_loss_fraction


def test_softmax_collapse_counts_rows_whose_other_classes_vanish_in_float32():
    logits = torch.zeros(4, 5, dtype=torch.float64)
    logits[0, 0] = 200.0  # exp(-200) is 0 next to 1 in float32 and in float64: collapsed
    logits[1, 0] = 20.0  # 4 exp(-20) ~ 8e-9 is below float32's eps / 2 (6e-8), not float64's: float32 only
    logits[2, 0] = 5.0  # exp(-5) survives: not collapsed
    assert softmax_collapse(logits) == 0.5
    assert softmax_collapse(logits, dtype=torch.float64) == 0.25
    labels = torch.zeros(4, dtype=torch.long)
    assert zero_loss_fraction(logits, labels) == 0.5  # the collapsed rows' loss is exactly 0
    assert zero_loss_fraction(logits, labels, dtype=torch.float64) == 0.25
