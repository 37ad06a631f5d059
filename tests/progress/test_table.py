"""The checkpoint table (grokinterp.progress.table): its exports, on the progress measures of the tiny grokked
run."""

from __future__ import annotations

import numpy as np
import pytest

from grokinterp import progress


@pytest.fixture(scope="module")
def grokked(grokked_run):
    return grokked_run, progress.measures(grokked_run, progress=False)


def test_table_exports(grokked):
    _, t = grokked
    d = t.to_dict()
    assert set(d) >= set(progress.COLUMNS) and all(isinstance(v, np.ndarray) for v in d.values())
    d["step"][0] = -5  # a copy
    assert t["step"][0] == 0
    rows = list(t)
    assert rows[-1]["step"] == t.steps[-1]
    pd = pytest.importorskip("pandas")
    df = t.to_pandas()
    assert isinstance(df, pd.DataFrame) and list(df["step"]) == list(t.steps)
