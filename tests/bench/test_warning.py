"""`python -m grokinterp.bench warning` (grokinterp.bench.warning) on a small real sweep: measures are read at
every checkpoint and cached, the CSV has the issue's columns, the sweep report draws the scores, a new measure is
one registry line, and user mistakes exit 2 in one line."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from grokinterp.bench import warning as bw
from grokinterp.bench.cli import main
from grokinterp.report.sweep import build_sweep_report
from grokinterp.sweep.driver import run_sweep
from grokinterp.sweep.spec import load_spec
from tests.helpers import TINY
from tests.sweep.helpers import write_spec

CHEAP = "test_loss,train_loss,weight_norm,gini_W_E,excluded_loss,htsr_alpha,ildr"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("warning")
    sets = {**{k: v for k, v in TINY.items() if k.startswith(("model.", "task.p"))}, "train.steps": 120,
            "train.ckpt_every": 20, "train.ckpt_log_points": 0, "train.log_every": 10, "train.lr": 3e-3}
    spec = write_spec(root / "spec.toml", preset="mod113", set_=sets,
                      grid={"task.frac_train": [0.3, 0.8], "model.seed": [0, 1]})
    run_sweep(load_spec(spec), root / "sweep", progress=False)
    return root / "sweep"


def test_the_benchmark_writes_the_scores_and_the_report_draws_them(sweep, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert main(["warning", str(sweep), "--measures", CHEAP, "--csv", str(out)]) == 0
    printed = capsys.readouterr().out
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(bw.CSV_COLUMNS) and {r["measure"] for r in rows} == set(CHEAP.split(","))
    assert all(r["runs"] == "4" for r in rows) and "ildr" in printed
    cache = json.loads((sweep / "warning" / "frac_train=0.3_seed=0.json").read_text())
    assert len(cache["steps"]) == 7 and set(cache["values"]) == set(CHEAP.split(","))
    main(["warning", str(sweep), "--measures", "test_loss,ildr"])  # the default CSV, read by the report
    assert (sweep / "early-warning.csv").exists()
    page = build_sweep_report(sweep).read_text()
    assert "Early warning: which measure sees grokking coming" in page


def test_a_new_measure_is_one_registry_line(sweep, monkeypatch):
    monkeypatch.setitem(bw.MEASURES, "step_itself", lambda run, steps: np.array(steps, dtype=float))
    rows = bw.bench_warning(sweep, ["step_itself"], log=lambda line: None)
    assert rows[0]["measure"] == "step_itself" and rows[0]["runs"] == 4


@pytest.mark.parametrize("argv, needle", [
    (["warning", "MISSING"], "no sweep at"),
    (["warning", "SWEEP", "--measures", "vibes"], "unknown measure(s) vibes"),
    (["warning", "SWEEP", "--early", "2"], "--early in [0, 1]"),
])
def test_mistakes_are_one_line_and_exit_2(sweep, tmp_path, capsys, argv, needle):
    argv = [a.replace("MISSING", str(tmp_path / "none")).replace("SWEEP", str(sweep)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err
