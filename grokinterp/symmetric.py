"""The symmetric group S_n as data: its elements and their products, below both the permutation tasks
and the group analyses (`grokinterp.analysis.groups` adds subgroups, cosets and characters).

Conventions (docs/design.md, section "Conventions"; openai/grok, Chughtai et al. 2023 and Stander et al.
2024 use the same):
- a permutation is a 0-indexed one-line tuple `x = (x[0], ..., x[n-1])`;
- the elements of S_n are numbered in `itertools.permutations(range(n))` order (token i of the task);
- the product applies the **left factor first**: `(x*y)[i] = y[x[i]]`, i.e. x*y is "x, then y".
"""

from __future__ import annotations

import itertools
import math
from functools import cache

import numpy as np
from jaxtyping import Int

Perm = tuple[int, ...]
Partition = tuple[int, ...]

MAX_SUBGROUP_N = 5  # subgroups(n) enumerates by closure; S6 (1455 subgroups) would take minutes


def check_degree(n: int, max_n: int = 7) -> None:
    if not isinstance(n, int) or not 1 <= n <= max_n:
        raise ValueError(f"S_n is supported for 1 <= n <= {max_n}, got n={n!r}")


@cache
def elements(n: int) -> tuple[Perm, ...]:
    """The n! elements of S_n in `itertools.permutations(range(n))` order (the identity first)."""
    check_degree(n)
    return tuple(itertools.permutations(range(n)))


@cache
def element_index(n: int) -> dict[Perm, int]:
    """Element -> its position in `elements(n)`."""
    return {g: i for i, g in enumerate(elements(n))}


def identity(n: int) -> Perm:
    return tuple(range(n))


def compose(x: Perm, y: Perm) -> Perm:
    """The product x*y: apply x first, then y, so `(x*y)[i] = y[x[i]]`."""
    return tuple(y[i] for i in x)


def inverse(x: Perm) -> Perm:
    inv = [0] * len(x)
    for i, xi in enumerate(x):
        inv[xi] = i
    return tuple(inv)


def conjugate(x: Perm, g: Perm) -> Perm:
    """g^-1 * x * g."""
    return compose(compose(inverse(g), x), g)


def power(x: Perm, k: int) -> Perm:
    out = identity(len(x))
    base = x if k >= 0 else inverse(x)
    for _ in range(abs(k)):
        out = compose(out, base)
    return out


def cycles(x: Perm) -> list[tuple[int, ...]]:
    """Disjoint cycles of x (fixed points included), each starting at its smallest point."""
    seen, out = set(), []
    for start in range(len(x)):
        if start in seen:
            continue
        cyc, i = [], start
        while i not in seen:
            seen.add(i)
            cyc.append(i)
            i = x[i]
        out.append(tuple(cyc))
    return out


def cycle_type(x: Perm) -> Partition:
    """The cycle lengths of x in decreasing order (a partition of n): its conjugacy class in S_n."""
    return tuple(sorted((len(c) for c in cycles(x)), reverse=True))


def cycle_notation(x: Perm) -> str:
    """E.g. '(0 3)(1 4)'; 'e' for the identity."""
    parts = ["(" + " ".join(map(str, c)) + ")" for c in cycles(x) if len(c) > 1]
    return "".join(parts) or "e"


def from_cycles(n: int, *cycs: tuple[int, ...]) -> Perm:
    """The permutation of range(n) with the given disjoint cycles, e.g. from_cycles(5, (0, 3), (1, 4))."""
    x = list(range(n))
    for c in cycs:
        for i, a in enumerate(c):
            x[a] = c[(i + 1) % len(c)]
    return tuple(x)


def order(x: Perm) -> int:
    return math.lcm(*(len(c) for c in cycles(x)))


def sign(x: Perm) -> int:
    return -1 if sum(len(c) - 1 for c in cycles(x)) % 2 else 1


@cache
def _tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    els, idx = elements(n), element_index(n)
    arr = np.array(els, dtype=np.int64).reshape(len(els), n)
    prod = arr[:, arr].transpose(1, 0, 2)  # prod[x, y, i] = arr[y, arr[x, i]] = (x*y)[i]
    weights = n ** np.arange(n - 1, -1, -1)  # one-line tuple -> base-n code
    lookup = np.zeros(n**n, dtype=np.int64)
    lookup[arr @ weights] = np.arange(len(els))
    table = lookup[prod @ weights]
    inv = np.array([idx[inverse(g)] for g in els], dtype=np.int64)
    table.flags.writeable = False
    inv.flags.writeable = False
    return table, inv


def multiplication_table(n: int) -> Int[np.ndarray, "g g"]:
    """table[i, j] = index of elements[i] * elements[j] (apply elements[i] first)."""
    return _tables(n)[0]


def inverse_table(n: int) -> Int[np.ndarray, " g"]:
    """inv[i] = index of elements[i]^-1."""
    return _tables(n)[1]
