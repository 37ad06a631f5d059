"""The toy addition task of Liu et al. 2022 ("Towards Understanding Grokking: An Effective Theory of
Representation Learning", code ejmichaud/grokking-squared): x + y for 0 <= x <= y < p, **no modulus**, so
the answers are 0 .. 2p-2 (2p-1 classes).

Addition is commutative and the toy model sums the two embeddings, so each unordered pair appears once
(p(p+1)/2 examples: 55 for the paper's p = 10, of which it trains on 45: `frac_train` 0.82, as `toy-add`).
Sequences are `[x, y, =]` ('=' is the token p) like the modular tasks, so transformers train on it too; the answer is
read at the last position. Pairs are enumerated with x outer, y inner (x <= y).

The split covers every answer: a cross-entropy decoder can never predict a class it did not see in training
(sums 0 and 2p-2 have a single pair each), so a plain random split would cap test accuracy below 100%
whatever the representation. One seeded random pair per sum goes to train first, then the rest of the
`int(frac_train * n)` training pairs come from a seeded permutation of the others. (When that is fewer than
2p-1 pairs the split is plain random.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

from grokinterp.errors import ConfigError
from grokinterp.tasks.base import Task, split_indices
from grokinterp.tasks.registry import Family, Structure, TaskSpec, check_op, check_split, register

ADDITION_OPS: dict[str, str] = {"add": "x+y (no modulus; unordered pairs x <= y)"}


@dataclass
class AdditionSpec(TaskSpec):
    """x+y for 0 <= x <= y < p without a modulus (2p-1 answers), inputs `[x, y, =]`, split by `frac_train`."""

    op: str = "add"
    p: int = 10
    frac_train: float = 0.82  # int(0.82 * 55) = 45 training pairs, Liu et al.'s split

    def validate(self) -> None:
        check_op(self, ADDITION_OPS)
        if self.p < 2:
            raise ConfigError(f"task.p must be >= 2, got {self.p}")
        check_split(self.frac_train, self.p * (self.p + 1) // 2)

    def describe(self) -> str:
        return f"x+y for 0 <= x <= y < {self.p}"

    @property
    def n_answers(self) -> int:
        return 2 * self.p - 1

    def structure(self) -> Structure:
        return Structure("integers", self.p)


def addition_pairs(p: int) -> tuple[Int[Tensor, "n 3"], Int[Tensor, " n"]]:
    """Every `[x, y, =]` with 0 <= x <= y < p, and x + y."""
    x, y = torch.triu_indices(p, p)
    tokens = torch.stack([x, y, torch.full_like(x, p)], dim=1)
    return tokens, x + y


def covering_split(labels: Int[Tensor, " n"], frac_train: float, seed: int) -> tuple[Tensor, Tensor]:
    """Seeded split of range(n) whose training part holds every label at least once (module docstring)."""
    n, n_train = len(labels), int(frac_train * len(labels))
    classes = torch.unique(labels)
    if n_train < len(classes):
        return split_indices(n, frac_train, seed)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    first = torch.stack([perm[labels[perm] == c][0] for c in classes])  # a random pair of each sum
    rest = perm[~torch.isin(perm, first)]
    return torch.cat([first, rest[: n_train - len(first)]]), rest[n_train - len(first):]


def make_addition_task(cfg: AdditionSpec) -> Task:
    tokens, labels = addition_pairs(cfg.p)
    train_idx, test_idx = covering_split(labels, cfg.frac_train, cfg.seed)
    return Task(tokens=tokens, labels=labels[:, None], answer_pos=(2,), d_vocab=cfg.p + 1, d_vocab_out=2 * cfg.p - 1,
                n_ctx=3, train_idx=train_idx, test_idx=test_idx)


register(Family("addition", AdditionSpec, make_addition_task, "pairs", "toy addition of Liu et al. 2022"))
