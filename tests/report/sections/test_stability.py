"""The stability section (grokinterp.report.sections.stability): softmax collapse, and on request the Hessian
and the LLC."""

from __future__ import annotations


def test_report_shows_softmax_collapse_and_on_request_the_hessian_and_llc(tmp_path, capsys, monkeypatch):
    from grokinterp import cli
    from grokinterp.report import build_report
    from grokinterp.report.sections import stability
    from grokinterp.report.sections.stability import spread_steps
    from grokinterp.train import train
    from tests.helpers import tiny

    assert spread_steps([0, 1, 2, 3, 10, 20, 28, 40, 50], 3) == [0, 28, 50]  # nearest to 0, 25, 50
    assert spread_steps([0, 5], 3) == [0, 5]
    train(tiny(), tmp_path / "run", progress=False)
    from grokinterp import load_run
    from grokinterp.report.sections import ReportContext

    run = load_run(tmp_path / "run")
    (plain,) = stability.stability_section(ReportContext(run=run, steps=run.steps[-1:]))
    assert plain.title == "Softmax collapse, curvature and learning coefficient"
    assert "--measures hessian,llc" in plain.text
    assert "Hessian" not in str(plain.figures[0].layout.annotations)
    monkeypatch.setattr(stability, "MEASURE_CHECKPOINTS", 1)  # for time: one checkpoint
    full = build_report(tmp_path / "run", tmp_path / "b.html", progress=False, measures=("hessian", "llc")).read_text()
    for text in ("Hessian top eigenvalue", "Hessian trace", "local learning coefficient", "s a checkpoint"):
        assert text in full
    assert cli.main(["report", str(tmp_path / "run"), "--measures", "sharpness", "--no-progress"]) == 2
    assert "--measures takes hessian, llc" in capsys.readouterr().err
