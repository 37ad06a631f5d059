"""k-digit addition (Nanda 2022, "A Mechanistic Interpretability Analysis of Grokking", the 5-digit
addition phase-change task).

A sequence is `a1..ak + b1..bk = c1..c(k+1)`: digits are tokens 0-9, '+' is 10, '=' is 11 (d_vocab 12),
most significant digit first, so c1 is the carry-out (0 or 1) and the sum has k+1 digits. The model predicts
c_j from the position before it (the '=' for c1): answer positions 2k+1 .. 3k+1, output vocabulary the 10
digits, n_ctx 3k+3 (18 for k = 5). Loss and accuracy are also reported per answer digit, where each digit
has its own phase change. The operands are uniform over 0 .. 10^k - 1; in finite mode train and test are
independent draws (for k = 5, 10^10 pairs: overlaps are negligible but not excluded).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

from grokinterp.errors import ConfigError
from grokinterp.tasks.base import Task
from grokinterp.tasks.registry import Family, check_op, register
from grokinterp.tasks.sampled import SampledSpec, make_sampled_task

DIGITS_OPS: dict[str, str] = {"add": "a1..ak + b1..bk = c1..c(k+1)"}

PLUS, EQUALS = 10, 11


def digits_of(x: Int[Tensor, " n"], k: int) -> Int[Tensor, "n k"]:
    """The k decimal digits of each x, most significant first."""
    powers = 10 ** torch.arange(k - 1, -1, -1, dtype=torch.long)
    return (x[:, None] // powers) % 10


def addition_examples(a: Int[Tensor, " n"], b: Int[Tensor, " n"], k: int) -> tuple[Tensor, Tensor]:
    """(tokens (n, 3k+3), labels (n, k+1)) of `a + b = c` with k-digit operands."""
    n = len(a)
    c = digits_of(a + b, k + 1)
    tokens = torch.cat([digits_of(a, k), torch.full((n, 1), PLUS), digits_of(b, k), torch.full((n, 1), EQUALS), c],
                       dim=1)
    return tokens, c


@dataclass
class DigitsSpec(SampledSpec):
    """k-digit addition (`op` "add"), `n_digits` = k."""

    op: str = "add"
    n_digits: int = 5

    def validate(self) -> None:
        check_op(self, DIGITS_OPS)
        super().validate()
        if not 1 <= self.n_digits <= 18:
            raise ConfigError(f"task.n_digits must be between 1 and 18, got {self.n_digits}")

    def describe(self) -> str:
        return f"{self.n_digits}-digit addition ({self.data_line()})"

    @property
    def n_answers(self) -> int:
        return 10


def make_digits_task(cfg: DigitsSpec) -> Task:
    k = cfg.n_digits

    def draw(count: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        ab = torch.randint(0, 10**k, (2, count), generator=gen)
        return addition_examples(ab[0], ab[1], k)

    return make_sampled_task(cfg, draw, answer_pos=tuple(range(2 * k + 1, 3 * k + 2)), d_vocab=12, d_vocab_out=10,
                             n_ctx=3 * k + 3, per_position=True)


register(Family("digits", DigitsSpec, make_digits_task, "sampled", "k-digit addition of Nanda 2022"))
