"""The run record (grokinterp.runs.record): a config.json with the old flat task section still loads."""

from __future__ import annotations

import json

from grokinterp import load_run
from grokinterp.runs.store import RunStore
from grokinterp.train import train
from tests.helpers import tiny


def test_legacy_flat_task_section_still_loads(tmp_path):
    """config.json files written before the family registry held every family's task keys."""
    train(tiny(**{"train.steps": 5}), tmp_path / "r", progress=False)
    record = json.loads((tmp_path / "r" / "config.json").read_text())
    assert set(record["task"]) == {"family", "op", "p", "frac_train", "format", "seed"}  # only the family's keys now
    legacy = {**record, "task": {"family": "modular", "op": "add", "p": 17, "n": 5, "frac_train": 0.5, "seed": 0,
                                 "mode": "finite", "n_train": 1000, "n_test": 1000, "n_digits": 5, "seq_len": 85,
                                 "vocab": 128, "subseq_len": 16, "n_repeats": 3, "dataset": "digits",
                                 "data_path": ""}}
    store = RunStore(tmp_path / "r")
    with store.locked():
        store.write_config(legacy)
    run = load_run(tmp_path / "r")
    assert run.config.task == tiny().task
    train(tiny(**{"train.steps": 10}), tmp_path / "r", progress=False)  # and it resumes
    assert load_run(tmp_path / "r").steps[-1] == 10
