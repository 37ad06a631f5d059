"""Modular arithmetic tasks of Power et al. 2022 ("Grokking: generalization beyond overfitting on small
algorithmic datasets"), as used by Nanda et al. 2023.

Every valid pair (a, b) with 0 <= a, b < p becomes the sequence `[a, b, =]`, where `=` is the token p, and
the label is `op(a, b) mod p`, read at the last position. Division `a/b` is `a * b^(p-2) mod p` (p prime)
and excludes b = 0; "odd division" is `a/b` for odd b and `a - b` otherwise (b = 0 is even, so kept).
Pairs are enumerated in the order `index = a * p + b` (over valid pairs), which analyses rely on to
reshape per-pair quantities into a (p, p) grid.

The train/test split is a seeded permutation of the valid pairs (`torch.Generator().manual_seed(seed)`):
the first `int(frac_train * n)` indices are train, the rest test. Nanda et al. used Python's
`random.shuffle` with seed 0 instead, so their exact split is not reproduced; the split fraction is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

from grokinterp.errors import ConfigError
from grokinterp.tasks.base import Task, check_format, equation_task, pair_task, split_indices
from grokinterp.tasks.registry import Family, Structure, TaskSpec, check_op, check_split, register

MODULAR_OPS: dict[str, str] = {
    # name -> formula (mod p), the operations of Power et al. 2022 (Table/Fig. 4) plus x*y
    "add": "x+y",
    "sub": "x-y",
    "mul": "x*y",
    "div": "x/y",
    "odd_div": "x/y if y is odd else x-y",
    "x2_y2": "x^2+y^2",
    "x2_xy_y2": "x^2+xy+y^2",
    "x2_xy_y2_x": "x^2+xy+y^2+x",
    "x3_xy": "x^3+xy",
    "x3_xy2_y": "x^3+xy^2+y",
}
DIVISION_OPS = frozenset({"div", "odd_div"})


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % d for d in range(2, math.isqrt(n) + 1))


@dataclass
class ModularSpec(TaskSpec):
    """`op` (MODULAR_OPS) on Z_p, inputs `[a, b, =]` with '=' the token p; `frac_train` of the pairs train."""

    op: str = "add"
    p: int = 113  # the modulus
    frac_train: float = 0.3  # fraction of all valid (a, b) pairs used for training
    format: str = "pair"  # "pair": [a, b, =]; "power": Power et al.'s <eos> a op b = c <eos> (tasks.base)

    def validate(self) -> None:
        check_op(self, MODULAR_OPS)
        check_format(self.format)
        if self.p < 2:
            raise ConfigError(f"task.p must be >= 2, got {self.p}")
        if self.op in DIVISION_OPS and not is_prime(self.p):
            raise ConfigError(f"task.op={self.op!r} needs a prime modulus (inverses mod p), got p={self.p}")
        check_split(self.frac_train, self.p * (self.p - 1) if self.op == "div" else self.p * self.p)

    def describe(self) -> str:
        return f"{MODULAR_OPS[self.op]} mod {self.p}"

    @property
    def n_answers(self) -> int:
        return self.p

    def structure(self) -> Structure:
        return Structure("cyclic", self.p, sum_sign={"add": 1, "sub": -1}.get(self.op))


def _apply(op: str, a: Tensor, b: Tensor, p: int) -> Tensor:
    if op == "add":
        return (a + b) % p
    if op == "sub":
        return (a - b) % p
    if op == "mul":
        return (a * b) % p
    if op in DIVISION_OPS:
        inv = torch.tensor([pow(int(y), p - 2, p) if int(y) % p else 0 for y in range(p)], dtype=torch.long)
        div = (a * inv[b]) % p
        if op == "div":
            return div
        return torch.where(b % 2 == 1, div, (a - b) % p)
    if op == "x2_y2":
        return (a * a + b * b) % p
    if op == "x2_xy_y2":
        return (a * a + a * b + b * b) % p
    if op == "x2_xy_y2_x":
        return (a * a + a * b + b * b + a) % p
    if op == "x3_xy":
        return (a * a * a + a * b) % p
    if op == "x3_xy2_y":
        return (a * a * a + a * b * b + b) % p
    raise ValueError(f"unknown modular operation {op!r}")


def modular_pairs(op: str, p: int) -> tuple[Int[Tensor, "n 3"], Int[Tensor, " n"]]:
    """All valid `[a, b, =]` sequences for `op` mod p, in `a * p + b` order, and their labels."""
    a = torch.arange(p).repeat_interleave(p)
    b = torch.arange(p).repeat(p)
    if op == "div":
        keep = b != 0
        a, b = a[keep], b[keep]
    labels = _apply(op, a, b, p)
    tokens = torch.stack([a, b, torch.full_like(a, p)], dim=1)
    return tokens, labels


def make_modular_task(cfg: ModularSpec) -> Task:
    tokens, labels = modular_pairs(cfg.op, cfg.p)
    return equation_task(cfg.format, tokens, labels, cfg.p, cfg.frac_train, cfg.seed)


register(Family("modular", ModularSpec, make_modular_task, "pairs", "modular arithmetic of Power et al. 2022"))

__all__ = ["DIVISION_OPS", "MODULAR_OPS", "ModularSpec", "is_prime", "make_modular_task", "modular_pairs",
           "pair_task", "split_indices"]
