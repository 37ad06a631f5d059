"""Task families. `make_task(cfg)` builds the data and its seeded train/test split."""

from __future__ import annotations

from grokinterp.config import TaskConfig
from grokinterp.tasks.addition import addition_pairs, make_addition_task
from grokinterp.tasks.base import Task
from grokinterp.tasks.digits import make_digits_task
from grokinterp.tasks.images import make_image_task
from grokinterp.tasks.modular import make_modular_task, modular_pairs, split_indices
from grokinterp.tasks.permutations import make_permutation_task, permutation_pairs
from grokinterp.tasks.sequences import make_sequence_task


def make_task(cfg: TaskConfig) -> Task:
    cfg.validate()
    if cfg.family == "modular":
        return make_modular_task(cfg)
    if cfg.family == "permutation":
        return make_permutation_task(cfg)
    if cfg.family == "digits":
        return make_digits_task(cfg)
    if cfg.family == "sequences":
        return make_sequence_task(cfg)
    if cfg.family == "addition":
        return make_addition_task(cfg)
    if cfg.family == "images":
        return make_image_task(cfg)
    raise ValueError(f"unknown task family {cfg.family!r}")  # validate() already refuses it


__all__ = ["Task", "addition_pairs", "make_task", "modular_pairs", "permutation_pairs", "split_indices"]
