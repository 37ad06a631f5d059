"""The accel sections of the report (grokinterp.report.sections.accel): the weight-norm trajectory, only for
accel runs."""

from __future__ import annotations

from grokinterp.train import train
from tests.helpers import tiny


def test_report_shows_the_weight_norm_trajectory_only_for_accel_runs(tmp_path):
    from grokinterp.report import build_report

    train(tiny(**{"accel.grokfast": "ema", "train.steps": 20}), tmp_path / "g", progress=False)
    page = build_report(tmp_path / "g", progress=False).read_text()
    assert "Weight norm and loss" in page and "grokfast=ema" in page
    train(tiny(**{"train.steps": 5}), tmp_path / "plain", progress=False)
    assert "Weight norm and loss" not in build_report(tmp_path / "plain", progress=False).read_text()
