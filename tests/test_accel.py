"""Grokfast filters on hand-computed gradients, their exact resume, Omnigrok's init scale and fixed norm."""

from __future__ import annotations

import pytest
import torch

from grokinterp import accel, load_run
from grokinterp.config import ConfigError
from grokinterp.models import trainable_parameters
from grokinterp.train import train
from tests.helpers import tiny


def _g(*vals):
    return {"w": torch.tensor(vals, dtype=torch.float64)}


def test_grokfast_ema_formula():
    f = accel.GrokfastEMA(alpha=0.5, lamb=2.0)
    state = f.init({"w": torch.zeros(2, dtype=torch.float64)})
    out, state = f.update(_g(1.0, -2.0), state)  # mu = g on the first call: g + 2 g
    assert out["w"].tolist() == [3.0, -6.0]
    out, state = f.update(_g(3.0, 0.0), state)  # mu = 0.5 * (1, -2) + 0.5 * (3, 0) = (2, -1)
    assert state["mu"]["w"].tolist() == [2.0, -1.0] and out["w"].tolist() == [7.0, -2.0]
    out, state = f.update(_g(0.0, 0.0), state)  # mu = (1, -0.5): the impulse decays by alpha
    assert out["w"].tolist() == [2.0, -1.0] and state["step"] == 3


def test_grokfast_ma_formula():
    f = accel.GrokfastMA(window=3, lamb=1.0)
    state = f.init({"w": torch.zeros(1, dtype=torch.float64)})
    outs = []
    for v in (1.0, 2.0, 3.0, 4.0, 5.0):
        out, state = f.update(_g(v), state)
        outs.append(out["w"].item())
    # unchanged until the window is full, then g + mean of the last 3 (including g)
    assert outs == [1.0, 2.0, 3.0 + 2.0, 4.0 + 3.0, 5.0 + 4.0]


def test_state_round_trip():
    f = accel.GrokfastMA(window=2, lamb=1.0)
    params = {"a.weight": torch.zeros(2, 3)}
    _, state = f.update({"a.weight": torch.ones(2, 3)}, f.init(params))
    back = accel.load_state(f, params, accel.state_tensors(state))
    assert back["step"] == 1 and torch.equal(back["queue"]["a.weight"], state["queue"]["a.weight"])
    with pytest.raises(ValueError, match="no Grokfast state"):
        accel.load_state(f, params, {})


@pytest.mark.parametrize("kind", ["ema", "ma"])
def test_resume_with_grokfast_state_is_bitwise_identical(kind, tmp_path):
    over = {"accel.grokfast": kind, "accel.window": 5, "train.ckpt_every": 10, "train.ckpt_log_points": 0}
    train(tiny(**over, **{"train.steps": 30}), tmp_path / "a", progress=False)
    train(tiny(**over, **{"train.steps": 17}), tmp_path / "b", progress=False)  # stops between checkpoints
    train(tiny(**over, **{"train.steps": 30}), tmp_path / "b", progress=False)
    a, b = load_run(tmp_path / "a").state_dict(), load_run(tmp_path / "b").state_dict()
    assert all(torch.equal(a[n], b[n]) for n in a)
    plain = load_run(tmp_path / "a")
    train(tiny(**{"train.steps": 30, "train.ckpt_every": 10, "train.ckpt_log_points": 0}), tmp_path / "c",
          progress=False)
    c = load_run(tmp_path / "c").state_dict()
    assert not torch.equal(c["embed.weight"], a["embed.weight"])  # the filter changed the trajectory
    assert plain.config.accel.grokfast == kind


def test_fixed_weight_norm_and_init_scale(tmp_path):
    train(tiny(**{"accel.weight_norm": 12.5, "train.steps": 25}), tmp_path / "n", progress=False)
    run = load_run(tmp_path / "n")
    model = run.model()
    for step in run.steps:
        from grokinterp.models import load_tensors_

        load_tensors_(model, run.state_dict(step))
        assert accel.total_norm(trainable_parameters(model)) == pytest.approx(12.5, abs=1e-6)
    train(tiny(**{"train.steps": 0}), tmp_path / "one", progress=False)
    train(tiny(**{"accel.init_scale": 3.0, "train.steps": 0}), tmp_path / "three", progress=False)
    one, three = load_run(tmp_path / "one").state_dict(0), load_run(tmp_path / "three").state_dict(0)
    assert torch.allclose(three["embed.weight"], 3.0 * one["embed.weight"])


@pytest.mark.parametrize("override, needle", [
    ({"accel.grokfast": "fft"}, "accel.grokfast"),
    ({"accel.alpha": 1.0}, "accel.alpha"),
    ({"accel.init_scale": 0}, "accel.init_scale"),
])
def test_accel_config_errors(override, needle):
    with pytest.raises(ConfigError, match=needle):
        tiny(**override)


def test_report_shows_the_weight_norm_trajectory_only_for_accel_runs(tmp_path):
    from grokinterp.report import build_report

    train(tiny(**{"accel.grokfast": "ema", "train.steps": 20}), tmp_path / "g", progress=False)
    page = build_report(tmp_path / "g", progress=False).read_text()
    assert "Weight norm and loss" in page and "grokfast=ema" in page
    train(tiny(**{"train.steps": 5}), tmp_path / "plain", progress=False)
    assert "Weight norm and loss" not in build_report(tmp_path / "plain", progress=False).read_text()
