"""The sweep tests' shared sweep."""

from __future__ import annotations

import pytest

from grokinterp.sweep.driver import run_sweep
from grokinterp.sweep.spec import load_spec
from tests.sweep.helpers import GRID, TINY_SET, write_spec


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory):
    """The 2x2 grid of tiny runs, trained in this process (jobs=1); returns its directory and status records."""
    root = tmp_path_factory.mktemp("sweep")
    spec = load_spec(write_spec(root / "spec.toml", set_=TINY_SET, grid=GRID))
    records = run_sweep(spec, root / "out", progress=False)
    return root / "out", records
