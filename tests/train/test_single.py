"""Training loop: schedule, metrics, resume (bitwise, also after SIGKILL), Ctrl-C, config checks, grokking."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from grokinterp.config import ConfigError
from grokinterp.runs.run import load_run
from grokinterp.runs.store import RunLockedError, RunStore
from grokinterp.train import train
from grokinterp.train.loop import checkpoint_schedule, lr_at
from tests.helpers import GROKS, REPO, TINY, as_set_args, tiny


def _final_tensors(path) -> dict[str, torch.Tensor]:
    run = load_run(path)
    return run.state_dict(run.steps[-1])


def _assert_bitwise_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _metrics_wo_time(path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "wall_time"} for r in load_run(path).metrics]


def test_checkpoint_schedule_dense_early_then_linear():
    s = checkpoint_schedule(1000, 100, 20)
    assert s[0] == 0 and s[-1] == 1000
    assert s == sorted(set(s))
    early = [x for x in s if 0 < x < 100]
    assert len(early) >= 12  # log-spaced points resolve memorisation
    assert all(x in s for x in range(100, 1001, 100))
    assert checkpoint_schedule(250, 100, 0) == [0, 100, 200, 250]


def test_lr_warmup_starts_at_zero():
    cfg = tiny()
    assert lr_at(cfg, 0) == 0.0
    assert lr_at(cfg, 5) == pytest.approx(cfg.train.lr / 2)
    assert lr_at(cfg, 10) == lr_at(cfg, 500) == cfg.train.lr


def test_train_writes_a_complete_run(tmp_path):
    cfg = tiny()
    res = train(cfg, tmp_path / "run", progress=False)
    run = load_run(tmp_path / "run")
    assert res.step == 60 and not res.interrupted
    assert run.steps == checkpoint_schedule(60, 20, 4)
    rows = run.metrics
    assert [r["step"] for r in rows] == sorted({*range(0, 61, 5), *run.steps})
    for key in ("train_loss", "test_loss", "train_acc", "test_acc", "weight_norm", "weight_sq", "lr", "wall_time"):
        assert all(key in r for r in rows), key
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    # weight_norm is logged from the checkpointed parameters
    sd = run.state_dict(60)
    wsq = sum(float(v.double().pow(2).sum()) for k, v in sd.items() if k != "unembed.bias")
    assert rows[-1]["weight_sq"] == pytest.approx(wsq, rel=1e-9)
    # the split on disk is the one the task makes, and train/test are disjoint
    task = run.task()
    assert len(set(task.train_idx.tolist()) & set(task.test_idx.tolist())) == 0
    # the logged test accuracy is what the checkpointed model gets
    model = run.model(60)
    logits = model(task.tokens[task.test_idx])[:, -1]
    acc = (logits.argmax(-1) == task.labels[task.test_idx, 0]).float().mean().item()
    assert acc == pytest.approx(rows[-1]["test_acc"], abs=1e-6)
    cfg_json = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg_json["versions"]["torch"] and cfg_json["model"]["d_model"] == 32


@pytest.mark.parametrize("overrides", [{"train.batch_size": 0}, {"train.batch_size": 16}, {"train.optimizer": "muon"}])
def test_extending_a_run_is_bitwise_equal_to_one_long_run(tmp_path, overrides, threads):
    long = tiny(**overrides)
    train(long, tmp_path / "long", progress=False)
    short = tiny(**{**overrides, "train.steps": 33})
    train(short, tmp_path / "split", progress=False)
    train(long, tmp_path / "split", progress=False)  # same command with a larger budget resumes
    _assert_bitwise_equal(_final_tensors(tmp_path / "long"), _final_tensors(tmp_path / "split"))
    assert _metrics_wo_time(tmp_path / "long") == _metrics_wo_time(tmp_path / "split")


def test_hooked_and_fused_engines_train_alike(tmp_path):
    a = train(tiny(**{"train.engine": "fused"}), tmp_path / "f", progress=False)
    b = train(tiny(**{"train.engine": "hooked"}), tmp_path / "h", progress=False)
    # different float summation order only: losses agree closely after 60 steps
    assert a.metrics["train_loss"] == pytest.approx(b.metrics["train_loss"], rel=1e-3)
    assert a.metrics["test_loss"] == pytest.approx(b.metrics["test_loss"], rel=1e-3)


def test_resume_refuses_a_different_config(tmp_path):
    train(tiny(), tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match=r"differs in model\.d_mlp"):
        train(tiny(**{"model.d_mlp": 32}), tmp_path / "run", progress=False)


def test_second_writer_is_refused(tmp_path):
    store = RunStore(tmp_path / "run")
    store.acquire()
    try:
        with pytest.raises(RunLockedError):
            train(tiny(), tmp_path / "run", progress=False)
    finally:
        store.release()


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
    _assert_bitwise_equal(_final_tensors(ref), _final_tensors(killed))
    assert _metrics_wo_time(ref) == _metrics_wo_time(killed)
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


def test_stop_when_grokked(tmp_path):
    # p = 23, 60% train, lr 1e-2 generalises within ~100 steps (test accuracy 0.68 at step 100)
    cfg = tiny(**{**GROKS, "train.lr": 1e-2, "train.grok_threshold": 0.5, "train.steps": 400})
    res = train(cfg, tmp_path / "run", stop_when_grokked=True, progress=False)
    assert res.grokked_step is not None and 0 < res.step == res.grokked_step < 400
    assert res.metrics["test_acc"] >= 0.5
    assert load_run(tmp_path / "run").steps[-1] == res.step  # the stopping step is checkpointed
