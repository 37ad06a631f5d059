"""Training a single run (grokinterp.train.single, through `train`): a complete run directory, bitwise
extension, both engines, stopping when grokked, the loss and optimiser options, Power et al.'s batch size rule
and regularisers, and regressions on squared error."""

from __future__ import annotations

import json
import math

import pytest
import torch

from grokinterp.config import ConfigError
from grokinterp.models import fused_scored
from grokinterp.presets import get_preset
from grokinterp.runs.run import load_run
from grokinterp.tasks import make_task
from grokinterp.train import train
from grokinterp.train.loop import checkpoint_schedule
from grokinterp.train.single import SingleStepper, batch_size
from tests.helpers import GROKS, assert_bitwise_equal, final_tensors, metrics_wo_time, power_small, tiny


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
    assert_bitwise_equal(final_tensors(tmp_path / "long"), final_tensors(tmp_path / "split"))
    assert metrics_wo_time(tmp_path / "long") == metrics_wo_time(tmp_path / "split")


def test_hooked_and_fused_engines_train_alike(tmp_path):
    a = train(tiny(**{"train.engine": "fused"}), tmp_path / "f", progress=False)
    b = train(tiny(**{"train.engine": "hooked"}), tmp_path / "h", progress=False)
    # different float summation order only: losses agree closely after 60 steps
    assert a.metrics["train_loss"] == pytest.approx(b.metrics["train_loss"], rel=1e-3)
    assert a.metrics["test_loss"] == pytest.approx(b.metrics["test_loss"], rel=1e-3)


def test_stop_when_grokked(tmp_path):
    # p = 23, 60% train, lr 1e-2 generalises within ~100 steps (test accuracy 0.68 at step 100)
    cfg = tiny(**{**GROKS, "train.lr": 1e-2, "train.grok_threshold": 0.5, "train.steps": 400})
    res = train(cfg, tmp_path / "run", stop_when_grokked=True, progress=False)
    assert res.grokked_step is not None and 0 < res.step == res.grokked_step < 400
    assert res.metrics["test_acc"] >= 0.5
    assert load_run(tmp_path / "run").steps[-1] == res.step  # the stopping step is checkpointed


@pytest.mark.parametrize("overrides", [{"train.loss": "stablemax"}, {"accel.orthogonal_grad": True,
                                                                   "train.weight_decay": 0.0},
                                       {"train.optimizer": "muon"}])
def test_the_options_train(tmp_path, overrides):
    from grokinterp import load_run

    train(tiny(**overrides, **{"train.steps": 40}), tmp_path / "run", progress=False)
    rows = load_run(tmp_path / "run").metrics
    assert math.isfinite(rows[-1]["train_loss"]) and rows[-1]["train_loss"] < rows[0]["train_loss"]


def test_their_batch_size_rule():
    assert batch_size(-1, 4656) == 512 and batch_size(-1, 301) == 151 and batch_size(-1, 2) == 1
    assert batch_size(0, 100) == 0 and batch_size(64, 100) == 64


def test_dropout_and_weight_noise_are_seeded_by_step_and_only_in_training():
    cfg = power_small(**{"model.dropout": 0.3, "train.weight_noise": 0.05})
    task = make_task(cfg.task)
    a, b = SingleStepper(cfg, task, torch.device("cpu")), SingleStepper(cfg, task, torch.device("cpu"))
    clean = SingleStepper(power_small(), task, torch.device("cpu"))
    la, lb, l0 = a.forward(0), b.forward(0), clean.forward(0)
    assert la.item() == lb.item()  # same step, same noise
    assert la.item() != l0.item()  # and there is noise
    noisy0, _ = a._noise(a.params, 0)
    noisy1, _ = a._noise(a.params, 1)
    diff = noisy0["blocks.0.mlp.in.weight"] - a.params["blocks.0.mlp.in.weight"]
    assert diff.std().item() == pytest.approx(0.05, rel=0.05)
    assert not torch.equal(noisy0["blocks.0.mlp.in.weight"], noisy1["blocks.0.mlp.in.weight"])
    # evaluation is clean: the same as the unregularised model on the same weights
    with torch.no_grad():
        x, y = a.test_tokens, a.test_labels
        ev = fused_scored(a.params, cfg.model, x, task.answer_pos, y).loss()
        ev0 = fused_scored(clean.params, power_small().model, x, task.answer_pos, y).loss()
    assert ev.item() == ev0.item()


def test_a_regression_must_train_on_squared_error(tmp_path):
    cfg = get_preset("teacher-student").with_overrides({"train.loss": "ce", "train.steps": 2})
    with pytest.raises(ConfigError, match="regression"):
        train(cfg, tmp_path / "run", progress=False)


def test_the_divergence_message_names_the_likely_cause(tmp_path):
    """A weight decay with lr * weight_decay >= 1 is named as the cause (the message once blamed the lr)."""
    from grokinterp.train import DivergedError
    from grokinterp.train.run import likely_cause

    with pytest.raises(DivergedError, match=r"weight_decay=1e\+12 with train.lr=0.001 .* lower train.weight_decay"):
        train(tiny(**{"train.weight_decay": 1e12}), tmp_path / "run", progress=False)
    assert likely_cause(tiny(**{"train.lr": 3.0, "train.weight_decay": 0.0})) == "train.lr=3 too large?"


def test_steps_after_grokked_trains_past_the_grokked_step_and_checkpoints_both(tmp_path):
    cfg = tiny(**{**GROKS, "train.lr": 1e-2, "train.grok_threshold": 0.5, "train.steps": 400,
                  "train.ckpt_every": 1000, "train.ckpt_log_points": 0})
    res = train(cfg, tmp_path / "run", stop_when_grokked=True, steps_after_grokked=25, progress=False)
    assert res.grokked_step is not None and res.step == res.grokked_step + 25 < 400
    steps = load_run(tmp_path / "run").steps
    assert res.grokked_step in steps and steps[-1] == res.step
    again = train(cfg, tmp_path / "run", stop_when_grokked=True, steps_after_grokked=25, progress=False)
    assert again.step == res.step  # rerun: already there, nothing trained


def test_steps_after_grokked_waits_out_a_collapse(tmp_path, monkeypatch):
    """A planted collapse after generalising (test accuracy scripted: 1 at steps 10-19, 0 at 20-39, 1 from 40):
    with 15 steps after the grokked step 10, the run does not stop in the collapse at 25 but once it is back, at
    40; with 5 it stops at 15, as before."""
    real = SingleStepper.metrics

    def scripted(self, step, runs, loss):
        rows = real(self, step, runs, loss)
        for row in rows:
            row["test_acc"] = 1.0 if 10 <= step < 20 or step >= 40 else 0.0
        return rows

    monkeypatch.setattr(SingleStepper, "metrics", scripted)
    cfg = tiny(**{"train.steps": 100, "train.log_every": 1, "train.ckpt_every": 1000, "train.ckpt_log_points": 0})
    res = train(cfg, tmp_path / "a", stop_when_grokked=True, steps_after_grokked=15, progress=False)
    assert (res.grokked_step, res.step) == (10, 40)
    assert load_run(tmp_path / "a").steps[-2:] == [10, 40]
    res = train(cfg, tmp_path / "b", stop_when_grokked=True, steps_after_grokked=5, progress=False)
    assert (res.grokked_step, res.step) == (10, 15)


def test_steps_after_grokked_needs_the_stop():
    from grokinterp.train.run import check_after_grokked

    with pytest.raises(ConfigError, match="set stop_when_grokked too"):
        check_after_grokked(False, 100)
    with pytest.raises(ConfigError, match="integer >= 0"):
        check_after_grokked(True, -1)


def test_a_non_contiguous_gradient_updates_as_its_contiguous_copy(monkeypatch):
    """torch's fused CPU AdamW misreads a non-contiguous .grad (torch 2.13: an update off by 2 lr in places);
    a gradient transform that hands one back (here ⊥Grad, patched to return a transposed layout) must not
    change the step."""
    from grokinterp.train import accel

    real = accel.orthogonal_gradient
    cfg = tiny(**{"accel.orthogonal_grad": True, "train.weight_decay": 0.0, "train.warmup_steps": 0})
    after = {}
    for layout in ("contiguous", "transposed"):
        if layout == "transposed":
            monkeypatch.setattr(accel, "orthogonal_gradient",
                                lambda g, p: real(g, p).T.contiguous().T if g.ndim == 2 else real(g, p))
        stepper = SingleStepper(cfg, make_task(cfg.task), torch.device("cpu"))
        stepper.update(0, stepper.forward(0), [True])
        after[layout] = {n: p.detach().clone() for n, p in stepper.trainable.items()}
    assert_bitwise_equal(after["contiguous"], after["transposed"])
