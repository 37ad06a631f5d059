"""Sweep jobs (grokinterp.sweep.jobs): a run that fails in training is recorded in its status file, the
sweep goes on, and a restart retries it; runs trained as model batches, and alone when they cannot share one."""

from __future__ import annotations

import json

from grokinterp.sweep.__main__ import main
from grokinterp.sweep.driver import run_sweep
from grokinterp.sweep.spec import expand, load_spec
from grokinterp.train import train
from tests.helpers import assert_close_relative
from tests.sweep.helpers import TINY_SET, write_spec


def test_failed_run_is_recorded_and_retried(tmp_path, capsys):
    # a weak run that does not exist only fails when training starts (GrokTransfer loads it then)
    spec = write_spec(tmp_path / "spec.toml", set_=TINY_SET,
                      grid={"accel.transfer_from": ["", str(tmp_path / "no-such-run")]})
    out = tmp_path / "out"
    assert main([str(spec), "--out", str(out), "--no-progress"]) == 1
    text = capsys.readouterr().out
    assert "1 done, 0 skipped (already done), 1 failed" in text.strip().splitlines()[-1]
    good, bad = (r.name for r in expand(load_spec(spec)))
    assert good == "transfer_from=" and bad.endswith("no-such-run") and "/" not in bad
    status = json.loads((out / "status" / f"{bad}.json").read_text())
    assert status["state"] == "failed" and status["final"] is None
    assert status["error"].startswith("ConfigError: accel.transfer_from") and "\n" not in status["error"]
    assert "Traceback" in status["traceback"]
    assert json.loads((out / "status" / f"{good}.json").read_text())["state"] == "done"
    # a restart skips the done run and tries the failed one again
    records = run_sweep(load_spec(spec), out, progress=False)
    assert [(r["name"], r["state"], r["skipped"]) for r in records] == [(good, "done", True), (bad, "failed", False)]


def test_sweep_batch_mode_and_fallback_when_runs_are_at_different_steps(tmp_path):
    from grokinterp.sweep import load_spec, load_sweep, run_sweep

    (tmp_path / "s.toml").write_text('preset = "toy-add"\n[set]\n"train.steps" = 80\n"train.device" = "cpu"\n'
                                     '"model.d_mlp" = 32\n[grid]\n"train.lr" = [1e-4, 3e-3]\n'
                                     '"train.weight_decay" = [0.0, 5.0]\n')
    spec = load_spec(tmp_path / "s.toml")
    records = run_sweep(spec, tmp_path / "batched", batch=True, progress=False)
    assert [r["state"] for r in records] == ["done"] * 4
    run_sweep(spec, tmp_path / "plain", progress=False)
    a, b = load_sweep(tmp_path / "batched"), load_sweep(tmp_path / "plain")
    for r in a.runs:
        assert_close_relative(a.run(r.name).state_dict(), b.run(r.name).state_dict(), 1e-4)
    # one run already part-trained on its own: the batch cannot start together, so each trains alone
    first = a.runs[0]
    train(first.config.with_overrides({"train.steps": 30}), tmp_path / "mixed" / "runs" / first.name, progress=False)
    records = run_sweep(spec, tmp_path / "mixed", batch=True, progress=False)
    assert [r["state"] for r in records] == ["done"] * 4
    mixed = load_sweep(tmp_path / "mixed")
    assert_close_relative(mixed.run(first.name).state_dict(), b.run(first.name).state_dict(), 1e-4)
