"""Task families, one module each, registered in `grokinterp.tasks.registry`. `make_task(spec)` builds a
run's data and its seeded train/test split.

Every module of this package is imported here, so a family module registers itself by being in the folder:
adding a family is writing its module (and, if it should have one, a preset)."""

from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

from grokinterp.tasks.addition import addition_pairs  # noqa: E402
from grokinterp.tasks.base import Task, split_indices  # noqa: E402
from grokinterp.tasks.modular import modular_pairs  # noqa: E402
from grokinterp.tasks.permutations import permutation_pairs  # noqa: E402
from grokinterp.tasks.registry import Family, Structure, TaskSpec, families, family_of, get_family  # noqa: E402


def make_task(spec: TaskSpec) -> Task:
    spec.validate()
    return family_of(spec).build(spec)


__all__ = ["Family", "Structure", "Task", "TaskSpec", "addition_pairs", "families", "family_of", "get_family",
           "make_task", "modular_pairs", "permutation_pairs", "split_indices"]
