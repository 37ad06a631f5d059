"""Power et al.'s data-fraction curves (`grokinterp.report.fractions`): planted runs whose steps to 99% are
known, and a tiny real sweep over `task.frac_train` through the sweep report."""

from __future__ import annotations

import math

from grokinterp.report.fractions import fraction_figure
from grokinterp.sweep.fractions import fraction_points, fraction_series


def _rows(t_train: int | None, t_val: int | None, budget: int = 1000, every: int = 10) -> list[dict]:
    """Metrics rows whose accuracies cross 0.99 exactly at t_train / t_val (None: never)."""
    return [{"step": s, "train_acc": 1.0 if t_train is not None and s >= t_train else 0.5,
             "test_acc": 1.0 if t_val is not None and s >= t_val else 0.02} for s in range(0, budget + 1, every)]



def _run(op: str, frac: float, seed: int, t_train, t_val, budget=1000):
    name = f"{op}_{frac}_{seed}"
    return (name, {"task.op": op, "task.frac_train": frac, "model.seed": seed}, f"{op} mod 7", "done", budget,
            _rows(t_train, t_val, budget))



PLANTED = [
    # x+y: generalises down to 30%; steps at 30% / 40%: medians 800 and 200 over three seeds
    _run("add", 0.3, 0, 100, 700), _run("add", 0.3, 1, 100, 800), _run("add", 0.3, 2, 100, 900),
    _run("add", 0.4, 0, 50, 200), _run("add", 0.4, 1, 50, 100), _run("add", 0.4, 2, 50, 300),
    _run("add", 0.2, 0, 100, None), _run("add", 0.2, 1, 100, 990), _run("add", 0.2, 2, 100, None),
    # x^2+y^2: only at 40%, one seed of three never generalises
    _run("sq", 0.3, 0, 100, None), _run("sq", 0.3, 1, 100, None), _run("sq", 0.3, 2, 100, None),
    _run("sq", 0.4, 0, 100, 500), _run("sq", 0.4, 1, 100, None), _run("sq", 0.4, 2, 100, 600),
]



def test_figure_marks_runs_that_never_generalised():
    fig = fraction_figure(fraction_series(fraction_points(PLANTED)))
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

