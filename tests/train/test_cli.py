"""The training command (grokinterp.train.cli, `python -m grokinterp.train`): bad input is one line and exit
code 2; SIGKILL then the same command resumes bitwise; Ctrl-C writes a checkpoint and exits cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from grokinterp import train as train_mod
from grokinterp.runs.run import load_run
from grokinterp.runs.store import RunStore
from tests.helpers import REPO, TINY, as_set_args, assert_bitwise_equal, final_tensors, metrics_wo_time


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["nope"], "unknown preset 'nope'"),
        (["mod113", "--set", "train.wd=1"], "unknown config key 'train.wd'"),
        (["mod113", "--set", "task.frac_train=1.5"], "task.frac_train must be in (0, 1)"),
        (["mod113", "--set", "task.p=1"], "task.p must be >= 2"),
        (["mod113", "--set", "task.op=div", "--set", "task.p=12"], "needs a prime modulus"),
        (["mod113", "--set", "model.d_model=abc"], "model.d_model must be an integer"),
        (["mod113", "--set", "train.steps"], "expected key=value"),
        (["mod113", "--set", "train.device=cuda"], "CUDA is not available"),
        (["s5", "--set", "task.op=add"], "unknown permutation operation 'add'"),
        (["s5", "--set", "task.n=9"], "task.n must be between 2 and 6"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, needle, tmp_path, capsys):
    code = train_mod.main([*argv, "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_locked_run_exits_2(tmp_path, capsys):
    store = RunStore(tmp_path / "run")
    store.acquire()
    try:
        code = train_mod.main(["mod113", "--out", str(tmp_path / "run"), "--no-progress", *as_set_args(TINY)])
    finally:
        store.release()
    assert code == 2 and "locked" in capsys.readouterr().err


def test_cli_mnist_without_files_is_one_line_exit_2(tmp_path, capsys):
    from grokinterp.train import main

    assert main(["mnist-omnigrok", "--out", str(tmp_path / "r"), "--set", f"task.data_path={tmp_path}/none"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: task.data_path") and "\n" not in err


def _cmd(out: Path, overrides: dict) -> list[str]:
    return [sys.executable, "-m", "grokinterp.train", "mod113", "--out", str(out), "--no-progress",
            *as_set_args(overrides)]


# the child trains at torch's default thread count, as a user's command does
ENV = {k: v for k, v in {**os.environ, "PYTHONPATH": str(REPO)}.items() if k != "OMP_NUM_THREADS"}
KILL_RUN = {**TINY, "train.steps": 400, "train.ckpt_every": 50}

# `python -m grokinterp.train ...` that sends itself a signal right after it has written the checkpoint of a
# given step: the interruption comes at a known point whatever the machine's speed
SIGNAL_AT = """
import os, signal, sys
from grokinterp.runs.store import RunStore
from grokinterp.train.cli import main

at, sig = int(sys.argv[1]), getattr(signal, sys.argv[2])
save = RunStore.save_checkpoint

def save_then_signal(self, step, *args, **kwargs):
    save(self, step, *args, **kwargs)
    if step == at:
        os.kill(os.getpid(), sig)

RunStore.save_checkpoint = save_then_signal
sys.exit(main(sys.argv[3:]))
"""


def _signalled_cmd(out: Path, overrides: dict, step: int, sig: str) -> list[str]:
    return [sys.executable, "-c", SIGNAL_AT, str(step), sig, *_cmd(out, overrides)[3:]]


def test_sigkill_then_rerun_is_bitwise_equal_to_uninterrupted(tmp_path):
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    assert subprocess.run(_cmd(ref, KILL_RUN), env=ENV, capture_output=True).returncode == 0
    proc = subprocess.run(_signalled_cmd(killed, KILL_RUN, 150, "SIGKILL"), env=ENV, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert load_run(killed).steps[-1] == 150  # killed right after the step-150 checkpoint
    done = subprocess.run(_cmd(killed, KILL_RUN), env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert_bitwise_equal(final_tensors(ref), final_tensors(killed))
    assert metrics_wo_time(ref) == metrics_wo_time(killed)
    assert load_run(ref).steps == load_run(killed).steps


def test_ctrl_c_writes_a_checkpoint_and_exits_cleanly(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(_signalled_cmd(out, KILL_RUN, 150, "SIGINT"), env=ENV, capture_output=True, text=True)
    assert proc.returncode == 130
    assert "Traceback" not in proc.stderr and "resume" in proc.stderr
    run = load_run(out)
    last = run.steps[-1]
    assert 150 <= last < 400  # the step under way when the interrupt came is finished and checkpointed
    assert run.metrics[-1]["step"] <= last
    assert RunStore(out).latest_resume()[0] == last  # the interrupt checkpoint is resumable
