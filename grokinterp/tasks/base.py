"""The `Task` container shared by every task family: all sequences, their labels and the split."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from jaxtyping import Int, Shaped
from torch import Tensor

#: `sample(step, batch_size) -> (tokens, labels)`: the fresh training batch of update `step` (infinite mode)
Sampler = Callable[[int, int], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class Task:
    """A finite data set of token sequences with labels read at fixed answer positions.

    `labels[i, j]` is the token the model must predict from the logits at position `answer_pos[j]` of
    `tokens[i]`; -1 means "not scored" (e.g. the unpredictable tokens of a repeated-subsequence task).
    `train_idx`/`test_idx` index rows of `tokens`. With a `sampler` (infinite mode) training draws a fresh
    batch every step and `tokens` holds only the test set (`train_idx` is empty).
    `per_position`: report loss and accuracy per answer position (e.g. per digit).
    Image tasks hold float pixel rows in `tokens` (one "answer position", 0) and `d_vocab` = pixels per image.
    """

    tokens: Shaped[Tensor, "n n_in"]  # token ids (n, n_ctx); float pixels (n, n_pixels) for image tasks
    labels: Int[Tensor, "n n_answer"]
    answer_pos: tuple[int, ...]
    d_vocab: int
    d_vocab_out: int
    n_ctx: int
    train_idx: Int[Tensor, " n_train"]
    test_idx: Int[Tensor, " n_test"]
    sampler: Sampler | None = None
    per_position: bool = False

    def with_split(self, train_idx: Tensor, test_idx: Tensor) -> Task:
        """The same data with another split (e.g. the one saved in a run directory)."""
        return dataclasses.replace(self, train_idx=train_idx, test_idx=test_idx)
