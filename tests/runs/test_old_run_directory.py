"""A run directory written by the code before the package redesign (tests/fixtures/run_v0, made by commit
a0bad53: mod-7, d_model 8, 6 of 12 steps) still loads, reports, and resumes bitwise."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch

from grokinterp import load_run
from grokinterp.train import train

FIXTURE = Path(__file__).parent.parent / "fixtures" / "run_v0"
EXPECTED = json.loads((FIXTURE.parent / "run_v0_expected.json").read_text())


def sha(t: torch.Tensor) -> str:
    return hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()


def copy(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(FIXTURE, out)
    return out


def test_the_old_run_directory_loads(tmp_path):
    run = load_run(copy(tmp_path))
    assert run.steps == [0, 3, 6]
    assert [r["step"] for r in run.metrics] == [0, 3, 6]
    assert run.config.model.arch == "transformer" and run.config.task.p == 7
    model = run.model(6)
    with torch.no_grad():
        logits = model(run.task().tokens)
    assert logits.shape == (49, 3, 8) and torch.isfinite(logits).all()


def test_the_old_run_directory_reports(tmp_path):
    from grokinterp.report import build_report

    html = build_report(copy(tmp_path), tmp_path / "report.html", steps=[6], progress=False).read_text()
    assert "Training curves" in html and "x+y mod 7" in html


def test_the_old_run_directory_resumes_bitwise(tmp_path):
    out = copy(tmp_path)
    cfg = load_run(out).config.with_overrides({"train.steps": 12})
    train(cfg, out, progress=False)
    resumed = load_run(out)
    assert resumed.steps[-1] == 12
    fresh_dir = tmp_path / "fresh"
    train(cfg, fresh_dir, progress=False)
    fresh = load_run(fresh_dir)
    same_arithmetic = all(torch.equal(fresh.state_dict(6)[k], v) for k, v in load_run(FIXTURE).state_dict(6).items())
    final = resumed.state_dict(12)
    if same_arithmetic:  # this CPU reproduces the fixture's own first steps: the resume must be bitwise
        assert {k: sha(v) for k, v in final.items()} == EXPECTED["tensor_sha256"]
        assert all(torch.equal(v, fresh.state_dict(12)[k]) for k, v in final.items())
        timeless = [{k: v for k, v in row.items() if k != "wall_time"}
                    for row in (resumed.metrics[-1], fresh.metrics[-1], EXPECTED["last_metrics"])]
        assert timeless[0] == timeless[1] == timeless[2]
    else:  # another CPU's float rounding: the same run up to rounding
        assert all(torch.allclose(v, fresh.state_dict(12)[k], atol=1e-5) for k, v in final.items())
