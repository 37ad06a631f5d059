"""The SLURM executor (grokinterp.slurm), run through submitit's local executor: jobs are processes on this
machine, so it is tested without a cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from grokinterp import sweep as sweep_mod
from grokinterp.config import ConfigError
from grokinterp.slurm import SlurmExecutor, SlurmOptions
from grokinterp.store import RunStore
from grokinterp.sweep import load_spec, load_sweep, make_executor
from tests.test_sweep import TINY_SET, write_spec

pytest.importorskip("submitit")

LOCAL = ["--executor", "slurm", "--slurm-cluster", "local", "--no-progress"]


def test_a_sweep_runs_through_submitit_and_resumes_after_a_kill(tmp_path, capsys):
    """SIGKILL the sweep command (and the job process it started) once the run has checkpoints; running the
    command again submits it again and the job resumes it from its checkpoints. (Skipping done runs is the
    sweep's, whatever the executor: tests/test_sweep.py.)"""
    spec = write_spec(tmp_path / "spec.toml", set_={**TINY_SET, "train.ckpt_every": 50, "train.steps": 400})
    out = tmp_path / "out"
    (name,) = (r.name for r in sweep_mod.expand(load_spec(spec)))
    run_dir = out / "runs" / name
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(tmp_path / "log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "grokinterp.sweep", str(spec), "--out", str(out), *LOCAL],
                                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            steps = RunStore(run_dir).steps() if (run_dir / "manifest.json").exists() else []
            if steps and steps[-1] >= 50:
                break
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)  # the command and the job process it started
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (out / "status" / f"{name}.json").exists(), (tmp_path / "log").read_text()
    assert 50 <= RunStore(run_dir).steps()[-1] < 400
    kept = (run_dir / "ckpt" / "step_00000050.safetensors").read_bytes()

    assert sweep_mod.main([str(spec), "--out", str(out), *LOCAL]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("1 done, 0 skipped (already done), 0 failed")
    sw = load_sweep(out)
    assert sw.state(name) == "done"
    assert sw.run(name).steps[-1] == 400 and sw.run(name).metrics[-1]["step"] == 400
    assert (run_dir / "ckpt" / "step_00000050.safetensors").read_bytes() == kept  # resumed, not restarted
    assert list((out / "slurm").iterdir())  # submitit's job files are in the sweep directory


def test_a_run_locked_by_an_earlier_job_is_waited_for_not_submitted_twice(tmp_path):
    """A job of a killed sweep command still holds its run: the new command waits for it and takes its status."""
    spec = load_spec(write_spec(tmp_path / "spec.toml", set_={**TINY_SET, "train.steps": 20}))
    run = sweep_mod.expand(spec)[0]
    out = tmp_path / "out"
    status_path = out / "status" / f"{run.name}.json"
    status_path.parent.mkdir(parents=True)
    job = sweep_mod.Job(name=run.name, overrides=run.overrides, config=run.config.to_dict(),
                        run_dir=str(out / "runs" / run.name), status_path=str(status_path))
    holder = RunStore(job.run_dir)
    holder.acquire()  # the earlier job, training

    def finish_later():
        time.sleep(0.3)
        status_path.write_text(json.dumps({"name": run.name, "state": "done", "error": None, "traceback": None,
                                           "wall_s": 1.0, "final": None, "overrides": run.overrides}))
        holder.release()

    threading.Thread(target=finish_later).start()
    seen = []
    make_executor("slurm", slurm=SlurmOptions(cluster="local")).run([(job,)], seen.append)
    assert [(r["state"], r["skipped"]) for r in seen] == [("done", True)]
    assert not (out / "slurm").exists()  # nothing was submitted


def test_slurm_options_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="--time must be >= 1"):
        SlurmExecutor(SlurmOptions(time_min=0))
    with pytest.raises(ConfigError, match="for the slurm executor"):
        make_executor("local", slurm=SlurmOptions(partition="gpu"))
    with pytest.raises(ConfigError, match="for the ray executor"):
        make_executor("slurm", address="auto")
