"""Omnigrok's sweep figures (grokinterp.report.omnigrok): the LU landscape and the critical training-set size."""

from __future__ import annotations

from grokinterp.presets import get_preset
from grokinterp.report.sweep import build_sweep_report
from grokinterp.sweep import load_spec, omnigrok, run_sweep
from tests.sweep.helpers import write_spec


def test_a_sweep_over_norm_and_size_reports_both(tmp_path):
    """A tiny digits sweep over accel.weight_norm x task.n_train: its report has the LU and critical-size
    sections, the standard init's norm is the built model's."""
    spec = write_spec(tmp_path / "spec.toml", preset="digits-omnigrok",
                      set_={"train.steps": 20, "train.log_every": 10, "train.ckpt_every": 20,
                            "train.ckpt_log_points": 0, "train.weight_decay": 0.0, "task.n_test": 100},
                      grid={"accel.weight_norm": [5.0, 40.0], "task.n_train": [20, 60]})
    out = tmp_path / "out"
    records = run_sweep(load_spec(spec), out, progress=False)
    assert all(r["state"] == "done" for r in records)
    page = build_sweep_report(out).read_text()
    assert "LU: loss against the weight norm" in page and "Critical training-set size" in page
    w0 = omnigrok.init_norm(get_preset("digits-omnigrok"))
    assert f"w = {w0:.3g}" in page and 1 < w0 < 100

