"""The regime and representation sections (grokinterp.report.sections.representation) of toy and image runs."""

from __future__ import annotations

from grokinterp.report import build_report
from grokinterp.train import train


def test_toy_and_image_reports(toy_sweep_run, tmp_path):
    page = build_report(toy_sweep_run.path, tmp_path / "toy.html", progress=False).read_text()
    for heading in ("Training curves", "Regime", "Representation", "RQI and test accuracy"):
        assert heading in page
    from grokinterp.presets import get_preset

    cfg = get_preset("digits-omnigrok").with_overrides({"train.steps": 20, "train.device": "cpu"})
    train(cfg, tmp_path / "digits", progress=False)
    page = build_report(tmp_path / "digits", progress=False).read_text()
    for heading in ("Training curves", "Regime", "Weight norm and loss", "init_scale=8.0"):
        assert heading in page
