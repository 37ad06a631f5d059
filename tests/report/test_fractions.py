"""Power et al.'s data-fraction curves (`grokinterp.report.fractions`): planted runs whose steps to 99% are
known, and a tiny real sweep over `task.frac_train` through the sweep report."""

from __future__ import annotations

import math

from grokinterp.report.fractions import fraction_figure
from grokinterp.sweep.fractions import fraction_points, fraction_series
from tests.helpers import PLANTED_FRACTIONS


def test_figure_marks_runs_that_never_generalised():
    fig = fraction_figure(fraction_series(fraction_points(PLANTED_FRACTIONS)))
    assert "training fraction" in fig.layout.title.text
    assert fig.layout.yaxis.type == "log"
    never = [t for t in fig.data if t.name.endswith("not within the budget")]
    assert {t.name for t in never} == {"add mod 7: validation not within the budget",
                                       "sq mod 7: validation not within the budget"}
    sq_never = next(t for t in never if t.name.startswith("sq"))
    assert list(sq_never.x) == [30.0] and list(sq_never.y) == [1000]
    val = next(t for t in fig.data if t.name == "add mod 7: validation")
    assert list(val.x) == [20.0, 30.0, 40.0] and list(val.y)[1:] == [800.0, 200.0] and val.y[0] is None
    assert list(val.error_y.array)[1:] == [100, 100] and list(val.error_y.arrayminus)[1:] == [100, 100]
    assert not any(math.isinf(y) for t in fig.data for y in t.y if y is not None)


def test_tiny_fraction_sweep_report(tmp_path):
    from grokinterp.report.sweep import build_sweep_report
    from grokinterp.sweep import load_spec, load_sweep, run_sweep

    spec = tmp_path / "spec.toml"
    spec.write_text('''
preset = "power-add"
[set]
"task.p" = 7
"model.n_layers" = 1
"model.d_model" = 16
"model.n_heads" = 2
"model.d_head" = 8
"model.d_mlp" = 32
"train.steps" = 150
"train.lr" = 3e-3
"train.log_every" = 10
"train.ckpt_every" = 150
"train.ckpt_log_points" = 0
"train.device" = "cpu"
[grid]
"task.op" = ["add", "x2_y2"]
"task.frac_train" = [0.3, 0.8]
''')
    run_sweep(load_spec(spec), tmp_path / "sweep", progress=False)
    sweep = load_sweep(tmp_path / "sweep")
    assert all(sweep.state(r.name) == "done" for r in sweep.runs)
    html = build_sweep_report(tmp_path / "sweep").read_text()
    assert "against the training fraction" in html
    assert "Smallest training fraction that generalised" in html
    assert "x+y mod 7" in html and "x^2+y^2 mod 7" in html

