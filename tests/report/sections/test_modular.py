"""The modular-arithmetic sections of the report (grokinterp.report.sections.modular): the discrete-log view."""

from __future__ import annotations

import math

import torch


def test_dlog_view_finds_a_planted_subtraction_frequency():
    from grokinterp.analysis.fourier import dlog_order
    from grokinterp.report.sections.modular import dlog_view
    from grokinterp.tasks.modular import ModularSpec

    p, k = 13, 2
    # an embedding that is a pure frequency-k wave of the discrete log: row g^i = (cos, sin)(2 pi k i / (p-1))
    W = torch.zeros(p, 4)
    for i, r in enumerate(dlog_order(p)):
        W[r, 0], W[r, 1] = math.cos(2 * math.pi * k * i / (p - 1)), math.sin(2 * math.pi * k * i / (p - 1))
    fig, text = dlog_view(ModularSpec(op="div", p=p), W)
    assert "subtraction of exponents mod 12" in text and "mod 12 there: 2 " in text
    assert dlog_view(ModularSpec(op="add", p=p), W) is None
