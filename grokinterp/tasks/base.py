"""The `Task` container shared by every task family: all sequences, their labels and the split."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int, Shaped
from torch import Tensor

from grokinterp.errors import ConfigError

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
    Regression tasks have `targets`: the model's d_vocab_out outputs are compared with `targets[labels]` by
    squared error (`grokinterp.scoring.Scored.with_targets`).
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
    # regression (teacher-student): row i's target vector is targets[i] and its label is i; an example is
    # right when its mean squared error is below `tolerance`
    targets: Float[Tensor, "n d_out"] | None = None
    tolerance: float = 1e-3

    def with_split(self, train_idx: Tensor, test_idx: Tensor) -> Task:
        """The same data with another split (e.g. the one saved in a run directory)."""
        return dataclasses.replace(self, train_idx=train_idx, test_idx=test_idx)


def split_indices(n: int, frac_train: float, seed: int) -> tuple[Int[Tensor, " n_train"], Int[Tensor, " n_test"]]:
    """Seeded random split of range(n): (train indices, test indices)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_train = int(frac_train * n)
    return perm[:n_train], perm[n_train:]


def pair_task(tokens: Int[Tensor, "n 3"], labels: Int[Tensor, " n"], n_symbols: int, frac_train: float,
              seed: int) -> Task:
    """A task of `[a, b, =]` sequences over `n_symbols` symbols ('=' is the token n_symbols), split by
    `frac_train` / `seed`; the softmax covers all n_symbols + 1 tokens including '=', as Nanda et al.
    train."""
    train_idx, test_idx = split_indices(len(tokens), frac_train, seed)
    return Task(tokens=tokens, labels=labels[:, None], answer_pos=(2,), d_vocab=n_symbols + 1,
                d_vocab_out=n_symbols + 1, n_ctx=3, train_idx=train_idx, test_idx=test_idx)


FORMATS = ("pair", "power")  # how a pair task writes its equations (`equation_task`)


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"task.format must be 'pair' ([a, b, =]) or 'power' (Power et al.'s "
                          f"<eos> a op b = c <eos>), got {fmt!r}")


def power_task(tokens: Int[Tensor, "n 3"], labels: Int[Tensor, " n"], n_symbols: int, frac_train: float,
               seed: int) -> Task:
    """The pairs of `pair_task` (same order, same split) written as Power et al.'s equations
    `<eos> a op b = c <eos>`: the model reads the first 6 tokens `[eos, a, op, b, =, c]` and is scored at
    positions 4 and 5 on `c` and the closing `<eos>` (their loss and their accuracy, which needs both).
    Tokens: the symbols 0..n_symbols-1, then '=' (n_symbols), the operator (n_symbols + 1) and <eos>
    (n_symbols + 2); the softmax covers all of them."""
    eq, op, eos = n_symbols, n_symbols + 1, n_symbols + 2
    n = len(tokens)
    col = torch.full((n,), 0, dtype=torch.long)
    seq = torch.stack([col + eos, tokens[:, 0], col + op, tokens[:, 1], col + eq, labels], dim=1)
    train_idx, test_idx = split_indices(n, frac_train, seed)
    return Task(tokens=seq, labels=torch.stack([labels, col + eos], dim=1), answer_pos=(4, 5),
                d_vocab=n_symbols + 3, d_vocab_out=n_symbols + 3, n_ctx=6, train_idx=train_idx, test_idx=test_idx)


def equation_task(fmt: str, tokens: Int[Tensor, "n 3"], labels: Int[Tensor, " n"], n_symbols: int,
                  frac_train: float, seed: int) -> Task:
    """`pair_task` (format "pair": `[a, b, =]`) or `power_task` (format "power")."""
    return (power_task if fmt == "power" else pair_task)(tokens, labels, n_symbols, frac_train, seed)


def vector_task(train_x: Float[Tensor, "n_train d"], train_y: Int[Tensor, " n_train"],
                test_x: Float[Tensor, "n_test d"], test_y: Int[Tensor, " n_test"], n_classes: int) -> Task:
    """A task of float feature rows (kind "vectors"), train rows first: `d_vocab` is the row width, one label
    per row read at "answer position" 0."""
    x = torch.cat([train_x, test_x]).to(torch.float32)
    y = torch.cat([train_y, test_y]).to(torch.long)
    n = len(train_x)
    return Task(tokens=x, labels=y[:, None], answer_pos=(0,), d_vocab=x.shape[1], d_vocab_out=n_classes, n_ctx=1,
                train_idx=torch.arange(n), test_idx=torch.arange(n, len(x)))
