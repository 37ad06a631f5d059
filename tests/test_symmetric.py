"""The symmetric group as data (grokinterp.symmetric): the element order, the left-first product, the cycle
helpers."""

from __future__ import annotations

import itertools

import numpy as np

from grokinterp import symmetric as S


def test_elements_follow_itertools_order_and_the_left_first_product():
    for n in (3, 4, 5):
        assert S.elements(n) == tuple(itertools.permutations(range(n)))
    table, inv = S.multiplication_table(4), S.inverse_table(4)
    els = S.elements(4)
    for i, j in [(1, 7), (5, 23), (13, 2)]:
        x, y = els[i], els[j]
        assert els[table[i, j]] == tuple(y[x[k]] for k in range(4))  # apply x first, then y
        assert S.compose(x, S.inverse(x)) == S.identity(4) == els[table[i, inv[i]]]
    # associativity over the whole table
    t = np.asarray(table)
    a, b, c = np.meshgrid(*(np.arange(24),) * 3, indexing="ij")
    assert np.array_equal(t[t[a, b], c], t[a, t[b, c]])


def test_cycle_helpers():
    x = S.from_cycles(5, (0, 3), (1, 4))
    assert x == (3, 4, 2, 0, 1)
    assert S.cycle_notation(x) == "(0 3)(1 4)" and S.cycle_type(x) == (2, 2, 1)
    assert S.order(S.from_cycles(5, (0, 1), (2, 3, 4))) == 6
    assert S.sign(x) == 1 and S.sign(S.from_cycles(5, (0, 1))) == -1
    g = S.from_cycles(5, (0, 1, 2))
    assert S.conjugate(x, g) == S.compose(S.compose(S.inverse(g), x), g)
    assert S.power(g, 3) == S.identity(5) and S.power(g, -1) == S.inverse(g)
