"""The permutation sections of the report (grokinterp.report.sections.permutation), on the S4 session run."""

from __future__ import annotations

from grokinterp.report import build_report


def test_report_has_the_coset_sections(permutation_run, tmp_path):
    out = build_report(permutation_run.path, tmp_path / "r.html", progress=False)
    page = out.read_text()
    last = permutation_run.steps[-1]
    for heading in ("Training curves", "Progress measures and irreps", f"Output-layer cosets at step {last}",
                    "Best coset partitions of the W_U rows", "t-SNE of the unembedding rows"):
        assert heading in page
    assert page.count("Plotly.newPlot") >= 8
