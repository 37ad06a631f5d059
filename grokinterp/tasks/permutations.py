"""Permutation-group tasks of Power et al. 2022 on S_n: x*y (composition), x*y*x^-1 (conjugation) and
x*y*x, for n = 3, 4, 5 (their S5 tasks; n = 2 and 6 are accepted too).

Tokens 0..n!-1 are the permutations in `itertools.permutations(range(n))` order, the token n! is '=';
every pair (x, y) becomes `[x, y, =]` and the label, read at the last position, is the token of the
answer. Products apply the left factor first, `(x*y)[i] = y[x[i]]`, as openai/grok computes `b[a]`
(see `grokinterp.symmetric`). Pairs are enumerated as `x * n! + y`, the layout of the modular
tasks, and split the same way (a seeded permutation; `frac_train` of the n!^2 pairs in train).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Int
from torch import Tensor

from grokinterp.errors import ConfigError
from grokinterp.symmetric import inverse_table, multiplication_table
from grokinterp.tasks.base import Task, check_format, equation_task
from grokinterp.tasks.registry import Family, Structure, TaskSpec, check_op, check_split, register

PERMUTATION_OPS: dict[str, str] = {
    # name -> formula in S_n, the group tasks of Power et al. 2022; products apply the left factor first
    "compose": "x*y",
    "conj": "x*y*x^-1",
    "aba": "x*y*x",
}


@dataclass
class PermutationSpec(TaskSpec):
    """`op` (PERMUTATION_OPS) on S_n, inputs `[x, y, =]` with the n! permutations as tokens 0..n!-1 in
    `itertools.permutations` order and '=' the token n!; `frac_train` of the n!^2 pairs train."""

    op: str = "compose"
    n: int = 5  # degree of the symmetric group
    frac_train: float = 0.3
    format: str = "pair"  # "pair": [x, y, =]; "power": Power et al.'s <eos> x op y = z <eos> (tasks.base)

    def validate(self) -> None:
        check_op(self, PERMUTATION_OPS)
        check_format(self.format)
        if not 2 <= self.n <= 6:
            raise ConfigError(f"task.n must be between 2 and 6 (S_n has n! tokens), got {self.n}")
        check_split(self.frac_train, math.factorial(self.n) ** 2)

    def describe(self) -> str:
        return f"{PERMUTATION_OPS[self.op]} in S{self.n}"

    @property
    def n_answers(self) -> int:
        return math.factorial(self.n)

    def structure(self) -> Structure:
        return Structure("symmetric", math.factorial(self.n), degree=self.n)


def answers(op: str, n: int) -> Int[np.ndarray, "g g"]:
    """answers[x, y] = index of op(x, y) in S_n, for every pair of element indices."""
    table, inv = multiplication_table(n), inverse_table(n)
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


def make_permutation_task(cfg: PermutationSpec) -> Task:
    tokens, labels = permutation_pairs(cfg.op, cfg.n)
    return equation_task(cfg.format, tokens, labels, math.factorial(cfg.n), cfg.frac_train, cfg.seed)


register(Family("permutation", PermutationSpec, make_permutation_task, "pairs", "S_n group tasks of Power et al. 2022"))
