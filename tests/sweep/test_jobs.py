"""Sweep jobs (grokinterp.sweep.jobs): a run that fails in training is recorded in its status file, the
sweep goes on, and a restart retries it."""

from __future__ import annotations

import json

from grokinterp.sweep.__main__ import main
from grokinterp.sweep.driver import run_sweep
from grokinterp.sweep.spec import expand, load_spec
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
