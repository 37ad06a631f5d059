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

import torch
from jaxtyping import Int
from torch import Tensor

from grokinterp.config import DIVISION_OPS, TaskConfig
from grokinterp.tasks.base import Task


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


def split_indices(n: int, frac_train: float, seed: int) -> tuple[Int[Tensor, " n_train"], Int[Tensor, " n_test"]]:
    """Seeded random split of range(n): (train indices, test indices)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_train = int(frac_train * n)
    return perm[:n_train], perm[n_train:]


def pair_task(tokens: Int[Tensor, "n 3"], labels: Int[Tensor, " n"], n_symbols: int, cfg: TaskConfig) -> Task:
    """A task of `[a, b, =]` sequences over `n_symbols` symbols ('=' is the token n_symbols), split by
    `cfg.frac_train` / `cfg.seed`; the softmax covers all n_symbols + 1 tokens including '=', as Nanda et al.
    train."""
    train_idx, test_idx = split_indices(len(tokens), cfg.frac_train, cfg.seed)
    return Task(tokens=tokens, labels=labels[:, None], answer_pos=(2,), d_vocab=n_symbols + 1,
                d_vocab_out=n_symbols + 1, n_ctx=3, train_idx=train_idx, test_idx=test_idx)


def make_modular_task(cfg: TaskConfig) -> Task:
    tokens, labels = modular_pairs(cfg.op, cfg.p)
    return pair_task(tokens, labels, cfg.p, cfg)
