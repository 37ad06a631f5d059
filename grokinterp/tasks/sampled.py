"""What the sampled task families (digits, sequences) share: seeded generators and the finite/infinite
split.

Every draw uses its own `torch.Generator` seeded from (task seed, purpose, step), so a run's data are a pure
function of its config: the test set is draw ("test", 0), a finite training set draw ("train", 0), and the
infinite-mode batch of update s draw ("batch", s). Resuming replays exactly the same batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from grokinterp.errors import ConfigError
from grokinterp.tasks.base import Task
from grokinterp.tasks.registry import TaskSpec

_PURPOSE = {"test": 1, "train": 2, "batch": 3}

Draw = Callable[[int, torch.Generator], tuple[Tensor, Tensor]]  # (count, generator) -> (tokens, labels)


@dataclass
class SampledSpec(TaskSpec):
    """The fields of every sampled family: `mode` "finite" draws `n_train` training examples once, "infinite"
    draws a fresh batch (`train.batch_size`) every step; both hold out `n_test` test examples."""

    mode: str = "finite"  # finite | infinite
    n_train: int = 1000  # finite mode: number of training examples
    n_test: int = 1000  # number of held-out test examples

    def validate(self) -> None:
        if self.mode not in ("finite", "infinite"):
            raise ConfigError(f"task.mode must be 'finite' or 'infinite', got {self.mode!r}")
        if self.n_train < 1 or self.n_test < 1:
            raise ConfigError(f"task.n_train and task.n_test must be >= 1, got {self.n_train} and {self.n_test}")

    @property
    def infinite(self) -> bool:
        return self.mode == "infinite"

    def data_line(self) -> str:
        return f"{self.mode}: " + (f"{self.n_train} train" if self.mode == "finite" else "fresh batches")


def generator(seed: int, purpose: str, step: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(((seed * 4 + _PURPOSE[purpose]) * 1_000_003 + step) % (2**63 - 1))


def make_sampled_task(cfg: SampledSpec, draw: Draw, *, answer_pos: tuple[int, ...], d_vocab: int, d_vocab_out: int,
                      n_ctx: int, per_position: bool = False) -> Task:
    """A finite task (train + test examples in `tokens`) or an infinite one (test only, plus a sampler)."""
    test_tokens, test_labels = draw(cfg.n_test, generator(cfg.seed, "test"))
    common = dict(answer_pos=answer_pos, d_vocab=d_vocab, d_vocab_out=d_vocab_out, n_ctx=n_ctx,
                  per_position=per_position)
    if cfg.mode == "infinite":
        def sample(step: int, batch_size: int) -> tuple[Tensor, Tensor]:
            return draw(batch_size, generator(cfg.seed, "batch", step))

        return Task(tokens=test_tokens, labels=test_labels, train_idx=torch.zeros(0, dtype=torch.long),
                    test_idx=torch.arange(cfg.n_test), sampler=sample, **common)
    train_tokens, train_labels = draw(cfg.n_train, generator(cfg.seed, "train"))
    tokens = torch.cat([train_tokens, test_tokens])
    labels = torch.cat([train_labels, test_labels])
    return Task(tokens=tokens, labels=labels, train_idx=torch.arange(cfg.n_train),
                test_idx=torch.arange(cfg.n_train, cfg.n_train + cfg.n_test), **common)
