"""The run directory (grokinterp.train.rundir): another run or a second writer is refused; config.json follows
an extension."""

from __future__ import annotations

import pytest

from grokinterp import load_run
from grokinterp.config import ConfigError
from grokinterp.runs.store import RunLockedError, RunStore
from grokinterp.train import train
from tests.helpers import tiny


def test_resume_refuses_a_different_config(tmp_path):
    train(tiny(), tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match=r"differs in model\.d_mlp"):
        train(tiny(**{"model.d_mlp": 32}), tmp_path / "run", progress=False)


def test_second_writer_is_refused(tmp_path):
    store = RunStore(tmp_path / "run")
    store.acquire()
    try:
        with pytest.raises(RunLockedError):
            train(tiny(), tmp_path / "run", progress=False)
    finally:
        store.release()


def test_config_json_tells_the_truth_after_an_extension(tmp_path):
    train(tiny(**{"train.steps": 20}), tmp_path / "r", progress=False)
    assert load_run(tmp_path / "r").config.train.steps == 20
    train(tiny(**{"train.steps": 40}), tmp_path / "r", progress=False)
    run = load_run(tmp_path / "r")
    assert run.config.train.steps == 40 and run.steps[-1] == 40
    assert all(err is None for err in run.store.verify().values())
