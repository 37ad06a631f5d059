"""Sweep executors (grokinterp.sweep.executors): worker processes and Ray give the parameters of the runs
trained in this process."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from grokinterp.sweep.driver import run_sweep
from grokinterp.sweep.read import load_sweep
from grokinterp.sweep.spec import load_spec
from tests.sweep.helpers import GRID, NAMES, TINY_SET, write_spec


def final_params(sweep_dir: Path) -> dict[str, dict[str, torch.Tensor]]:
    sw = load_sweep(sweep_dir)
    return {r.name: sw.run(r.name).state_dict() for r in sw.runs}


def assert_same_params(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].keys() == b[name].keys()
        for k in a[name]:
            assert torch.equal(a[name][k], b[name][k]), (name, k)


def test_local_jobs2_gives_the_same_parameters(tiny_sweep, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the workers' threads: the same reduction order as here
    spec = load_spec(write_spec(tmp_path / "spec.toml", set_=TINY_SET, grid=GRID))
    records = run_sweep(spec, tmp_path / "out", jobs=2, progress=False)
    assert [r["name"] for r in records] == NAMES and all(r["state"] == "done" for r in records)
    assert_same_params(final_params(tiny_sweep[0]), final_params(tmp_path / "out"))


@pytest.mark.slow
def test_ray_gives_the_same_parameters(tiny_sweep, tmp_path, monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    spec = load_spec(write_spec(tmp_path / "spec.toml", set_=TINY_SET, grid=GRID))
    # one task in flight: one Ray worker imports torch and TransformerLens, not one per CPU
    records = run_sweep(spec, tmp_path / "out", executor="ray", jobs=1, progress=False)
    assert [r["name"] for r in records] == NAMES and all(r["state"] == "done" for r in records)
    assert_same_params(final_params(tiny_sweep[0]), final_params(tmp_path / "out"))
