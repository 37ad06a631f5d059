"""`grokinterp.errors.user_stacklevel`: a warning names the caller's line."""

from __future__ import annotations

import pytest

from grokinterp import load_run, progress
from grokinterp.train import train
from tests.helpers import tiny


def test_the_never_grokked_warning_points_at_the_callers_line(tmp_path):
    """The warning names the user's line, not progress.py nor the type checker's wrapper (jaxtyping's
    `@jaxtyped`, which the suite's import hook puts around every function), however deep it is raised."""
    train(tiny(**{"train.steps": 2, "train.ckpt_every": 2, "train.ckpt_log_points": 0}), tmp_path / "young",
          progress=False)
    run = load_run(tmp_path / "young")
    with pytest.warns(UserWarning, match="has not grokked") as direct:
        progress.default_keys(run)
    with pytest.warns(UserWarning, match="has not grokked") as nested:
        progress.measures(run, progress=False)  # measures -> default_keys
    for record in (direct, nested):
        assert [w.filename for w in record if "has not grokked" in str(w.message)] == [__file__]
