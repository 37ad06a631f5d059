"""Report sections, registered per task family so each family (modular arithmetic, groups, induction,
sweeps) adds its own without touching the others.

A section builder takes a `ReportContext` and returns a list of `Section`s. Register one with
`@register("modular")`; `builders(family)` lists those of a run's task family in order. A family with no
sections of its own (e.g. one just added under `grokinterp.tasks`) gets the `DEFAULT_SECTIONS` ones: the
training curves and the regime of the run (Liu et al.).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from grokinterp.report.html import Section
from grokinterp.runs.run import Run


@dataclass
class ReportContext:
    """What builders share: the run, the steps picked for per-step figures, and a cache for expensive
    intermediate results (e.g. the progress table) computed by one builder and reused by another."""

    run: Run
    steps: list[int]
    cache: dict = field(default_factory=dict)
    progress: Callable[[str], None] = lambda msg: None
    measures: tuple[str, ...] = ()  # costlier curves the user asked for (`grokinterp report --measures`)


SectionBuilder = Callable[[ReportContext], list[Section]]
_REGISTRY: dict[str, list[SectionBuilder]] = {}


def register(family: str) -> Callable[[SectionBuilder], SectionBuilder]:
    def deco(fn: SectionBuilder) -> SectionBuilder:
        _REGISTRY.setdefault(family, []).append(fn)
        return fn

    return deco


ANY_FAMILY = "*"  # builders registered under this name run for every family, after the family's own
DEFAULT_SECTIONS = "default"  # builders for the families that registered none


def families() -> list[str]:
    return sorted(f for f in _REGISTRY if f not in (ANY_FAMILY, DEFAULT_SECTIONS))


def builders(family: str) -> list[SectionBuilder]:
    own = _REGISTRY.get(family) if family not in (ANY_FAMILY, DEFAULT_SECTIONS) else None
    return list(own or _REGISTRY.get(DEFAULT_SECTIONS, [])) + list(_REGISTRY.get(ANY_FAMILY, []))
