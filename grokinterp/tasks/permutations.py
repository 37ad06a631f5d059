"""Permutation-group tasks of Power et al. 2022 on S_n: x*y (composition), x*y*x^-1 (conjugation) and
x*y*x, for n = 3, 4, 5 (their S5 tasks; n = 2 and 6 are accepted too).

Tokens 0..n!-1 are the permutations in `itertools.permutations(range(n))` order, the token n! is '=';
every pair (x, y) becomes `[x, y, =]` and the label, read at the last position, is the token of the
answer. Products apply the left factor first, `(x*y)[i] = y[x[i]]`, as openai/grok computes `b[a]`
(see `grokinterp.analysis.groups`). Pairs are enumerated as `x * n! + y`, the layout of the modular
tasks, and split the same way (a seeded permutation; `frac_train` of the n!^2 pairs in train).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from jaxtyping import Int
from torch import Tensor

from grokinterp.analysis import groups
from grokinterp.config import TaskConfig
from grokinterp.tasks.base import Task
from grokinterp.tasks.modular import pair_task


def answers(op: str, n: int) -> Int[np.ndarray, "g g"]:
    """answers[x, y] = index of op(x, y) in S_n, for every pair of element indices."""
    table, inv = groups.multiplication_table(n), groups.inverse_table(n)
    g = np.arange(len(table))
    xy = table[g[:, None], g[None, :]]
    if op == "compose":
        return xy
    if op == "conj":
        return table[xy, inv[g][:, None]]
    if op == "aba":
        return table[xy, g[:, None]]
    raise ValueError(f"unknown permutation operation {op!r}")


def permutation_pairs(op: str, n: int) -> tuple[Int[Tensor, "n_pairs 3"], Int[Tensor, " n_pairs"]]:
    """All `[x, y, =]` sequences in `x * n! + y` order, and their labels."""
    size = math.factorial(n)
    x = torch.arange(size).repeat_interleave(size)
    y = torch.arange(size).repeat(size)
    labels = torch.from_numpy(answers(op, n).reshape(-1).copy())
    tokens = torch.stack([x, y, torch.full_like(x, size)], dim=1)
    return tokens, labels


def make_permutation_task(cfg: TaskConfig) -> Task:
    tokens, labels = permutation_pairs(cfg.op, cfg.n)
    return pair_task(tokens, labels, math.factorial(cfg.n), cfg)
