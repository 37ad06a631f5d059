"""The SLURM executor (grokinterp.sweep.slurm), run through submitit's local executor: jobs are processes on this
machine, so it is tested without a cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grokinterp.config import ConfigError
from grokinterp.runs.store import RunStore
from grokinterp.sweep.__main__ import main
from grokinterp.sweep.executors import make_executor
from grokinterp.sweep.jobs import Job, run_batch
from grokinterp.sweep.read import load_sweep
from grokinterp.sweep.slurm import SlurmExecutor, SlurmOptions
from grokinterp.sweep.spec import expand, load_spec
from tests.sweep.helpers import TINY_SET, write_spec

pytest.importorskip("submitit")

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ["--executor", "slurm", "--slurm-cluster", "local", "--no-progress"]
KILL_AT = 50  # the step whose checkpoint is the last one the killed sweep leaves


def run_batch_killed_at_checkpoint(unit):
    """`run_batch`, in the job's process, that SIGKILLs its process group (the sweep command, submitit's
    controller and the job itself) as soon as the checkpoint of step KILL_AT is written: the kill lands at a
    known step, not wherever a test polling the run directory happens to see it."""
    save = RunStore.save_checkpoint

    def save_then_kill(self, step, *args, **kwargs):
        save(self, step, *args, **kwargs)
        if step == KILL_AT:
            os.killpg(os.getpgrp(), signal.SIGKILL)

    RunStore.save_checkpoint = save_then_kill
    return run_batch(unit)


# the sweep command, submitting `run_batch_killed_at_checkpoint` (pickled by name: its job imports this module)
KILLED_COMMAND = ("import sys; from grokinterp.sweep import slurm; from grokinterp.sweep.__main__ import main; "
                  "from tests.sweep.test_slurm import run_batch_killed_at_checkpoint; "
                  "slurm.run_batch = run_batch_killed_at_checkpoint; sys.exit(main(sys.argv[1:]))")


def test_a_sweep_runs_through_submitit_and_resumes_after_a_kill(tmp_path, capsys):
    """The sweep command and the job process it started are SIGKILLed right after the run's checkpoint of
    step 50; running the command again submits it again and the job resumes it from its checkpoints. (Skipping
    done runs is the sweep's, whatever the executor: tests/sweep/test_driver.py.)"""
    spec = write_spec(tmp_path / "spec.toml", set_={**TINY_SET, "train.ckpt_every": 50, "train.steps": 400})
    out = tmp_path / "out"
    (name,) = (r.name for r in expand(load_spec(spec)))
    run_dir = out / "runs" / name
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}  # the job imports tests.sweep.test_slurm
    with open(tmp_path / "log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", KILLED_COMMAND, str(spec), "--out", str(out), *LOCAL],
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
    try:
        proc.wait(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail("the sweep command did not end:\n" + (tmp_path / "log").read_text())
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "log").read_text()  # killed, not ended
    assert not (out / "status" / f"{name}.json").exists(), (tmp_path / "log").read_text()
    assert RunStore(run_dir).steps()[-1] == KILL_AT
    kept = (run_dir / "ckpt" / "step_00000050.safetensors").read_bytes()

    assert main([str(spec), "--out", str(out), *LOCAL]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("1 done, 0 skipped (already done), 0 failed")
    sw = load_sweep(out)
    assert sw.state(name) == "done"
    assert sw.run(name).steps[-1] == 400 and sw.run(name).metrics[-1]["step"] == 400
    assert (run_dir / "ckpt" / "step_00000050.safetensors").read_bytes() == kept  # resumed, not restarted
    assert list((out / "slurm").iterdir())  # submitit's job files are in the sweep directory


def test_a_run_locked_by_an_earlier_job_is_waited_for_not_submitted_twice(tmp_path):
    """A job of a killed sweep command still holds its run: the new command waits for it and takes its status."""
    spec = load_spec(write_spec(tmp_path / "spec.toml", set_={**TINY_SET, "train.steps": 20}))
    run = expand(spec)[0]
    out = tmp_path / "out"
    status_path = out / "status" / f"{run.name}.json"
    status_path.parent.mkdir(parents=True)
    job = Job(name=run.name, overrides=run.overrides, config=run.config.to_dict(),
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
