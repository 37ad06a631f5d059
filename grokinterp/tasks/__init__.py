"""Task families, one module each, registered in `grokinterp.tasks.registry`. `make_task(spec)` builds a
run's data and its seeded train/test split."""

from __future__ import annotations

from grokinterp.tasks import addition, digits, images, modular, parity, permutations, sequences  # noqa: F401
from grokinterp.tasks.addition import addition_pairs
from grokinterp.tasks.base import Task, split_indices
from grokinterp.tasks.modular import modular_pairs
from grokinterp.tasks.permutations import permutation_pairs
from grokinterp.tasks.registry import Family, Structure, TaskSpec, families, family_of, get_family


def make_task(spec: TaskSpec) -> Task:
    spec.validate()
    return family_of(spec).build(spec)


__all__ = ["Family", "Structure", "Task", "TaskSpec", "addition_pairs", "families", "family_of", "get_family",
           "make_task", "modular_pairs", "permutation_pairs", "split_indices"]
