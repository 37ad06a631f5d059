"""Sparse parity, the (n, k)-parity task of GrokTransfer (Xu et al. 2025, "Let Me Grok for You:
Accelerating Grokking via Embedding Transfer from a Weaker Model", Table 1: n = 40, k = 3, 1,000 samples).

An input is x in {-1, +1}^n, uniform; its label is the product of the first k coordinates,
y = x_1 x_2 ... x_k, stored as the class (1 - y) / 2 (class 1: an odd number of the k coordinates are -1).
Only k of the n coordinates matter, and a network must find which: it fits the training samples long before
it finds them. The paper trains with the logistic loss; cross-entropy over the two classes is the same loss
of the logit difference.

Train (`n_train`) and test (`n_test`) samples are independent seeded draws (2^n inputs: for n = 40 overlaps
are negligible but not excluded). The task is of kind "vectors": float rows, trained by `model.arch=image-mlp`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from grokinterp.errors import ConfigError
from grokinterp.tasks.base import Task, vector_task
from grokinterp.tasks.registry import Family, TaskSpec, register


@dataclass
class ParitySpec(TaskSpec):
    """(n, k)-parity: `n_bits` = n inputs in {-1, +1}, the label the product of the first `k`."""

    n_bits: int = 40
    k: int = 3
    n_train: int = 1000
    n_test: int = 1000

    def validate(self) -> None:
        if not 1 <= self.n_bits <= 100_000:
            raise ConfigError(f"task.n_bits must be between 1 and 100000, got {self.n_bits}")
        if not 1 <= self.k <= self.n_bits:
            raise ConfigError(f"task.k must be between 1 and task.n_bits={self.n_bits}, got {self.k}")
        if self.n_train < 1 or self.n_test < 1:
            raise ConfigError(f"task.n_train and task.n_test must be >= 1, got {self.n_train} and {self.n_test}")

    def describe(self) -> str:
        return f"({self.n_bits}, {self.k})-parity, {self.n_train} train / {self.n_test} test"

    @property
    def n_answers(self) -> int:
        return 2


def parity_samples(count: int, n_bits: int, k: int, gen: torch.Generator
                   ) -> tuple[Float[Tensor, "count n_bits"], Int[Tensor, " count"]]:
    """`count` uniform inputs in {-1, +1}^n_bits and their classes (1 - x_1...x_k) / 2."""
    x = torch.randint(0, 2, (count, n_bits), generator=gen).to(torch.float32) * 2 - 1
    y = x[:, :k].prod(dim=1)
    return x, ((1 - y) / 2).to(torch.long)


def make_parity_task(cfg: ParitySpec) -> Task:
    train = parity_samples(cfg.n_train, cfg.n_bits, cfg.k, torch.Generator().manual_seed(2 * cfg.seed))
    test = parity_samples(cfg.n_test, cfg.n_bits, cfg.k, torch.Generator().manual_seed(2 * cfg.seed + 1))
    return vector_task(*train, *test, n_classes=2)


register(Family("parity", ParitySpec, make_parity_task, "vectors", "(n, k) sparse parity of GrokTransfer"))
