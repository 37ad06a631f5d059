"""Optional experiment logging (grokinterp.train.explog): TensorBoard and wandb, offline, mirror metrics.jsonl."""

from __future__ import annotations

import json

import pytest

from grokinterp import load_run
from grokinterp.train import explog, train
from grokinterp.train import main as train_main
from tests.helpers import as_set_args, tiny

SHORT = {"train.steps": 30, "train.log_every": 10}


def tensorboard_scalars(run_dir) -> dict[str, dict[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tensorboard"))
    acc.Reload()
    return {tag: {e.step: e.value for e in acc.Scalars(tag)} for tag in acc.Tags()["scalars"]}


def test_tensorboard_mirrors_the_metrics_and_a_resume_logs_each_step_once(tmp_path):
    pytest.importorskip("tensorboard")
    out = tmp_path / "run"
    train(tiny(**SHORT, **{"train.log": "tensorboard"}), out, progress=False)
    train(tiny(**{**SHORT, "train.steps": 50}, **{"train.log": "tensorboard"}), out, progress=False)  # resumed
    rows = load_run(out).metrics
    scalars = tensorboard_scalars(out)
    assert sorted(scalars["test_acc"]) == [r["step"] for r in rows]
    for row in rows:
        for key in ("train_loss", "test_loss", "test_acc", "weight_norm"):
            assert scalars[key][row["step"]] == pytest.approx(row[key], rel=1e-6)


def test_wandb_offline_writes_the_run_to_disk(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = tmp_path / "run"
    train(tiny(**SHORT, **{"train.log": "wandb"}), out, progress=False)
    runs = list((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    (log,) = runs[0].glob("*.wandb")
    data = log.read_bytes()  # wandb's record log: history rows hold each value as its JSON text
    for row in load_run(out).metrics:
        assert json.dumps(row["test_loss"]).encode() in data and json.dumps(row["weight_norm"]).encode() in data


def test_a_logger_that_is_not_installed_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(explog.importlib.util, "find_spec", lambda name: None)
    args = ["mod113", "--out", str(tmp_path / "run"), "--no-progress", *as_set_args({"train.log": "wandb"})]
    assert train_main(args) == 2
    err = capsys.readouterr().err
    assert "pip install 'grokinterp[log]'" in err and len(err.strip().splitlines()) == 1
    assert explog.scalars({"step": 3, "a": 1, "b": [0.5, float("nan")], "c": "x", "d": True}) == {"a": 1.0, "b/0": 0.5}
