"""Report sections, one module per task family (and `accel`, `stability` for every family), registered in
`grokinterp.report.sections.registry`; `common` holds what several families share. Importing this package
imports, and so registers, every section module: adding a section is writing its module here."""

from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

from grokinterp.report.sections.registry import (  # noqa: E402
    ANY_FAMILY,
    DEFAULT_SECTIONS,
    ReportContext,
    builders,
    families,
    register,
)

__all__ = ["ANY_FAMILY", "DEFAULT_SECTIONS", "ReportContext", "builders", "families", "register"]
