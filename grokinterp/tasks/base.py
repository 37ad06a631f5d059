"""The `Task` container shared by every task family: all sequences, their labels and the split."""

from __future__ import annotations

from dataclasses import dataclass

from jaxtyping import Int
from torch import Tensor


@dataclass(frozen=True)
class Task:
    """A finite data set of token sequences with labels read at fixed answer positions.

    `labels[i, j]` is the token the model must predict from the logits at position `answer_pos[j]` of
    `tokens[i]`. `train_idx`/`test_idx` index rows of `tokens`.
    """

    tokens: Int[Tensor, "n n_ctx"]
    labels: Int[Tensor, "n n_answer"]
    answer_pos: tuple[int, ...]
    d_vocab: int
    d_vocab_out: int
    n_ctx: int
    train_idx: Int[Tensor, " n_train"]
    test_idx: Int[Tensor, " n_test"]

    def with_split(self, train_idx: Tensor, test_idx: Tensor) -> Task:
        """The same data with another split (e.g. the one saved in a run directory)."""
        return Task(self.tokens, self.labels, self.answer_pos, self.d_vocab, self.d_vocab_out, self.n_ctx,
                    train_idx, test_idx)
