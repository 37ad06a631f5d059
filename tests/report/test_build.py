"""The whole HTML report (`build_report`, `grokinterp report`) and the analysis notebooks: on the tiny grokked
run, on runs it cannot measure, on Power et al.'s runs, and its header."""

from __future__ import annotations

import os
import re
import runpy
from pathlib import Path

import pytest

from grokinterp import cli
from grokinterp.presets import get_preset
from grokinterp.report import build_report
from grokinterp.train import train
from tests.helpers import POWER_SMALL, REPO, power_small, tiny

ANALYSES = REPO / "analyses"


def test_report_is_self_contained_and_has_every_figure(grokked_run, tmp_path):
    out = build_report(grokked_run.path, tmp_path / "r.html", steps=[grokked_run.steps[-1], 100], progress=False)
    page = out.read_text()
    assert not re.search(r"<script[^>]*\bsrc=", page)  # no external script: opens offline
    assert page.count("Plotly.newPlot") >= 2 * 9  # 2 per-step sections of >= 7 figures, plus curves
    assert page.count("<script type='text/javascript'>") == 1  # plotly.js inlined exactly once
    for heading in ("Training curves", "Progress measures", "The model at step 100"):
        assert heading in page
    assert re.search(r"key_frequencies|Key frequencies", page)
    assert out.stat().st_size < 25e6


def test_report_cli_and_bad_input(grokked_run, tmp_path, capsys):
    assert cli.main(["report", str(grokked_run.path), "-o", str(tmp_path / "x.html"), "--no-progress"]) == 0
    assert (tmp_path / "x.html").exists()
    capsys.readouterr()
    assert cli.main(["report", str(tmp_path / "missing"), "--no-progress"]) == 2
    assert "no run directory at" in capsys.readouterr().err
    assert cli.main(["report", str(grokked_run.path), "--steps", "7", "--no-progress"]) == 2
    assert "no checkpoint at step(s) [7]" in capsys.readouterr().err


def test_report_of_a_run_without_checkpoints_or_a_sum_circuit(tmp_path, capsys):
    from grokinterp.runs.store import RunStore

    store = RunStore(tmp_path / "empty")
    with store.locked():
        store.write_config(tiny().to_dict())
    assert cli.main(["report", str(tmp_path / "empty"), "--no-progress"]) == 2
    assert "no checkpoints" in capsys.readouterr().err
    odd = RunStore(tmp_path / "odd")
    with odd.locked():
        odd.write_config({**tiny().to_dict(), "task": {**tiny().to_dict()["task"], "family": "chess"}})
    assert cli.main(["report", str(tmp_path / "odd"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "unknown task family 'chess'" in err and len(err.strip().splitlines()) == 1
    train(tiny(**{"task.op": "mul", "train.steps": 3}), tmp_path / "mul", progress=False)
    page = build_report(tmp_path / "mul", progress=False).read_text()
    assert "Not computed" in page


# the run fixture each notebook is pointed at (by the family it analyses)
NOTEBOOK_RUNS = {"01_mod113_progress_measures.py": "grokked_run", "02_s5_cosets.py": "permutation_run",
                 "03_induction_phase_change.py": "sequence_run", "04_accelerating_grokking.py": "transfer_run",
                 "05_phase_diagram.py": "toy_sweep_run"}


def test_every_notebook_has_a_run_fixture():
    assert set(NOTEBOOK_RUNS) == {p.name for p in ANALYSES.glob("*.py")}


@pytest.mark.parametrize("notebook", sorted(p.name for p in ANALYSES.glob("*.py")))
def test_notebooks_run_end_to_end(notebook, request, monkeypatch):
    run = request.getfixturevalue(NOTEBOOK_RUNS.get(notebook, "grokked_run"))
    monkeypatch.setenv("GROKINTERP_RUN", str(run.path))
    monkeypatch.setenv("GROKINTERP_SHOW", "0")
    monkeypatch.setenv("GROKINTERP_PERMUTATIONS", "99")
    sweep_dir = Path(run.path).parent.parent
    if (sweep_dir / "sweep.json").exists():  # a run of a sweep: the notebook also reads the sweep
        monkeypatch.setenv("GROKINTERP_SWEEP", str(sweep_dir))
    ns = runpy.run_path(str(ANALYSES / notebook), run_name="__main__")
    assert ns["run"].path == Path(os.environ["GROKINTERP_RUN"])


def test_the_header_names_the_runs_optimiser(tmp_path):
    """A Muon run's report says Muon and shows its settings (it once said AdamW for every run)."""
    cfg = tiny(**{"train.optimizer": "muon", "train.muon_momentum": 0.9, "train.steps": 4, "train.ckpt_every": 2})
    train(cfg, tmp_path / "muon", progress=False)
    html = build_report(tmp_path / "muon", tmp_path / "muon.html", steps=[4], progress=False).read_text()
    assert "Muon on the hidden matrices" in html and "momentum 0.9" in html
    adamw = tiny().train.describe_optimizer()
    assert adamw.startswith("AdamW lr 0.001, weight decay 1") and "Muon" not in adamw


def test_reports_of_power_runs(tmp_path):
    from grokinterp.report import build_report

    div = power_small(**{"task.op": "div", "train.steps": 6, "train.ckpt_every": 6})
    train(div, tmp_path / "div", progress=False)
    page = build_report(tmp_path / "div", progress=False).read_text()
    assert "Power et al.&#x27;s transformer" in page or "Power et al.'s transformer" in page
    assert "discrete-log order" in page and "subtraction of exponents mod 12" in page
    s4 = get_preset("power-compose").with_overrides({**{k: v for k, v in POWER_SMALL.items() if k != "task.p"},
                                                     "task.n": 4, "train.steps": 6, "train.ckpt_every": 6})
    train(s4, tmp_path / "s4", progress=False)
    page = build_report(tmp_path / "s4", progress=False).read_text()
    assert "Best coset partitions of the W_U rows" in page and "W_L rows" not in page
