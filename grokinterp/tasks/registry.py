"""The registry of task families.

A task family is one module under `grokinterp.tasks` that owns everything about its data: a spec
dataclass (the `task` section of a run config: its fields, defaults and validation, a one-line description
and the number of answers), the function that builds the data and its seeded split, its kind, and what the
analyses may assume about its operands (`Structure`). It registers itself once with `register(Family(...))`;
nothing outside the family module tests its name. Adding a family is writing its module (imported in
`grokinterp/tasks/__init__.py`) and, if it should have one, a preset.

Kinds:
- "pairs": every (a, b) pair of a finite set of symbols, split by `frac_train` (modular, permutation,
  addition); the pair models (`model.arch` mlp and toy) and model batching work on these.
- "sampled": sequences drawn at random from seeded generators, in a finite or an infinite mode (digits,
  sequences).
- "vectors": float feature rows, one label each (images, for one); they train the feature MLP
  (`model.arch=image-mlp`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from grokinterp.errors import ConfigError
from grokinterp.limits import MAX_EXAMPLES

KINDS = ("pairs", "sampled", "vectors")


@dataclass(frozen=True)
class Structure:
    """The algebra of a pair task's operands, which analyses read instead of the family's name.

    kind "cyclic": the operands are Z_p (`order` p); `sum_sign` is +1 for answers a + b, -1 for a - b, None
    for other operations. "symmetric": S_n (`degree` n, `order` n!). "integers": 0..p-1 with sums taken
    without a modulus (`order` p).
    """

    kind: str
    order: int
    degree: int = 0
    sum_sign: int | None = None


@dataclass
class TaskSpec:
    """Base of every family's spec: the fields every family has. Subclasses are dataclasses too."""

    family: ClassVar[str] = ""
    regression: ClassVar[bool] = False  # True: real-valued targets (Task.targets), trained with train.loss=mse
    seed: int = 0  # seed of the train/test split (and of the sampled data)

    def validate(self) -> None:
        """Raise `ConfigError` naming the first bad field."""

    def describe(self) -> str:
        raise NotImplementedError

    @property
    def n_answers(self) -> int:
        """How many distinct answers the task has."""
        raise NotImplementedError

    @property
    def infinite(self) -> bool:
        """True when training draws a fresh batch every step (needs `train.batch_size >= 1`)."""
        return False

    def structure(self) -> Structure | None:
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class Family:
    name: str
    spec: type[TaskSpec]
    build: Callable[[Any], Any]  # spec -> grokinterp.tasks.base.Task
    kind: str
    summary: str = ""  # one line for listings and docs

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"family {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")


_FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Register a family (once, at import of its module)."""
    if family.name in _FAMILIES and _FAMILIES[family.name] is not family:
        raise ValueError(f"task family {family.name!r} is registered twice")
    family.spec.family = family.name
    _FAMILIES[family.name] = family
    return family


def families() -> dict[str, Family]:
    """Every registered family by name (importing this module imports the package `grokinterp.tasks` first,
    which imports, and so registers, every family module)."""
    return dict(_FAMILIES)


def get_family(name: str) -> Family:
    fams = families()
    if name not in fams:
        raise ConfigError(f"task.family: unknown task family {name!r} (known: {', '.join(map(repr, fams))})")
    return fams[name]


def family_of(spec: TaskSpec) -> Family:
    return get_family(spec.family)


def check_op(spec: Any, ops: dict[str, str]) -> None:
    if spec.op not in ops:
        raise ConfigError(f"task.op: unknown {spec.family} operation {spec.op!r} (known: {', '.join(ops)})")


def check_split(frac_train: float, n: int) -> None:
    """`frac_train` of `n` examples must leave at least one for training and one for testing."""
    if n > MAX_EXAMPLES:
        raise ConfigError(f"the task has {n:,} examples, more than the {MAX_EXAMPLES:,} this toolkit builds in "
                          "memory (every pair is materialised): choose a smaller task.p or task.n")
    if not 0.0 < frac_train < 1.0:
        raise ConfigError(f"task.frac_train must be in (0, 1), got {frac_train}")
    n_train = int(frac_train * n)
    if n_train < 1 or n_train >= n:
        raise ConfigError(f"task.frac_train={frac_train} of {n} examples leaves {n_train} for training and "
                          f"{n - n_train} for testing: both need at least one")
