"""Prieto et al. 2025's numerical-stability tools on planted inputs: softmax collapse counts exactly the rows
whose other classes are absorbed, StableMax is their s(x) normalised, ⊥Grad removes the weight direction."""

from __future__ import annotations

import math

import pytest
import torch

from grokinterp import scoring
from grokinterp.analysis.collapse import softmax_collapse, zero_loss_fraction
from grokinterp.train import accel, train
from tests.helpers import tiny


def test_softmax_collapse_counts_rows_whose_other_classes_vanish_in_float32():
    logits = torch.zeros(4, 5, dtype=torch.float64)
    logits[0, 0] = 200.0  # exp(-200) is 0 next to 1 in float32 and in float64: collapsed
    logits[1, 0] = 20.0  # 4 exp(-20) ~ 8e-9 is below float32's eps / 2 (6e-8), not float64's: float32 only
    logits[2, 0] = 5.0  # exp(-5) survives: not collapsed
    assert softmax_collapse(logits) == 0.5
    assert softmax_collapse(logits, dtype=torch.float64) == 0.25
    labels = torch.zeros(4, dtype=torch.long)
    assert zero_loss_fraction(logits, labels) == 0.5  # the collapsed rows' loss is exactly 0
    assert zero_loss_fraction(logits, labels, dtype=torch.float64) == 0.25


def test_stablemax_is_their_formula_and_a_distribution():
    x = torch.tensor([[-3.0, -0.5, 0.0, 2.0]], dtype=torch.float64)
    s = torch.tensor([[1 / 4, 1 / 1.5, 1.0, 3.0]], dtype=torch.float64)
    assert torch.allclose(scoring.stablemax(x), s / s.sum())
    assert torch.allclose(scoring.log_stablemax(x), (s / s.sum()).log())
    # large logits do not collapse: the runner-up keeps a probability float32 can hold
    big = torch.tensor([[1000.0, 999.0, 0.0]])
    assert scoring.stablemax(big)[0, 1] > 0.4 and torch.softmax(big, -1)[0, 2] == 0
    # the gradient is finite at x = 1, where the unused branch 1 / (1 - x) would divide by zero
    z = torch.tensor([[1.0, -1.0]], dtype=torch.float64, requires_grad=True)
    scoring.stablemax_loss(z[:, None], torch.tensor([[0]])).backward()
    assert torch.isfinite(z.grad).all()
    assert math.isclose(scoring.task_loss(z[:, None].detach(), torch.tensor([[0]]), "stablemax").item(),
                        -math.log(2 / 2.5))


def test_orthogonal_gradient_drops_the_weight_direction_and_keeps_the_norm():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    along, across = 3.0 * w, torch.randn(6, 4, generator=gen, dtype=torch.float64)
    across -= (across * w).sum() / (w * w).sum() * w  # planted: a part along w and a part orthogonal to it
    g = along + across
    out = accel.orthogonal_gradient(g, w)
    assert abs(float((out * w).sum())) < 1e-10
    assert math.isclose(out.norm().item(), g.norm().item(), rel_tol=1e-12)
    assert torch.allclose(out / out.norm(), across / across.norm())
    assert torch.allclose(accel.orthogonal_gradient(across, w), across)


@pytest.mark.parametrize("overrides", [{"train.loss": "stablemax"}, {"accel.orthogonal_grad": True,
                                                                   "train.weight_decay": 0.0},
                                       {"train.optimizer": "muon"}])
def test_the_options_train(tmp_path, overrides):
    from grokinterp import load_run

    train(tiny(**overrides, **{"train.steps": 40}), tmp_path / "run", progress=False)
    rows = load_run(tmp_path / "run").metrics
    assert math.isfinite(rows[-1]["train_loss"]) and rows[-1]["train_loss"] < rows[0]["train_loss"]


def test_training_rows_log_the_collapse_of_the_training_predictions():
    from grokinterp.scoring import Scored, record_metrics
    from grokinterp.tasks import make_task

    cfg = tiny()
    task = make_task(cfg.task)
    logits = torch.zeros(8, 1, 17, dtype=torch.float64)
    logits[:3, 0, 0] = 30.0  # three of eight rows collapse in float32 (4 exp(-30) is far below 6e-8)
    labels = torch.zeros(8, 1, dtype=torch.long)
    row: dict = {}
    record_metrics(cfg, task, Scored.from_logits(logits, labels), row, "train")
    record_metrics(cfg, task, Scored.from_logits(logits, labels), row, "test")
    assert row["train_softmax_collapse"] == 3 / 8 and "test_softmax_collapse" not in row


def test_collapse_over_checkpoints_matches_the_logged_rows(tmp_path):
    from grokinterp import load_run, progress

    cfg = tiny(**{"train.weight_decay": 0.0, "train.lr": 3e-2, "train.steps": 200, "train.ckpt_every": 50})
    train(cfg, tmp_path / "run", progress=False)
    run = load_run(tmp_path / "run")
    table = progress.softmax_collapse(run, progress=False)
    logged = {r["step"]: r["train_softmax_collapse"] for r in run.metrics}
    for step, sc in zip(table["step"], table["softmax_collapse"]):
        assert abs(sc - logged[int(step)]) <= 0.02  # the same measure, from the checkpoint instead of the row
    # no weight decay and a large learning rate: the memorised training set collapses
    assert table["softmax_collapse"][0] == 0 and table["softmax_collapse"][-1] > 0.5
    assert (table["zero_loss_fraction"] <= table["softmax_collapse"] + 1e-12).all()


def test_muon_takes_the_hidden_matrices_and_orthogonalises_their_update():
    from grokinterp.models import get_architecture
    from grokinterp.tasks import make_task
    from grokinterp.train.optim import make_optimizer
    from grokinterp.train.single import SingleStepper

    cfg = tiny(**{"train.optimizer": "muon", "train.weight_decay": 0.0})
    stepper = SingleStepper(cfg, make_task(cfg.task), torch.device("cpu"))
    hidden = get_architecture("transformer").muon_names(stepper.trainable)
    assert {"blocks.0.mlp.in.weight", "blocks.0.attn.q.weight"} <= set(hidden)
    assert not {"embed.weight", "unembed.weight", "pos_embed.weight"} & set(hidden)
    mlp = {f"layers.{i}.weight": torch.zeros(4, 4) for i in range(3)} | {"layers.1.bias": torch.zeros(4)}
    assert get_architecture("image-mlp").muon_names(mlp) == ["layers.0.weight", "layers.1.weight"]  # not the readout
    assert get_architecture("onehot-mlp").muon_names(mlp) == ["layers.1.weight"]  # nor the one-hot lookup
    # a planted gradient with singular values 1 .. 0.05: Muon's step has them all near one size; AdamW's
    # first step on the embedding is lr * sign(g)
    g = torch.Generator().manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(6, 6, generator=g))
    v, _ = torch.linalg.qr(torch.randn(10, 10, generator=g))
    grad = u @ torch.diag(torch.tensor([1.0, 0.6, 0.3, 0.2, 0.1, 0.05])) @ v[:6]
    params = {"blocks.0.mlp.in.weight": torch.nn.Parameter(torch.zeros(6, 10)),
              "embed.weight": torch.nn.Parameter(torch.zeros(5, 3))}
    opt = make_optimizer(cfg, params)
    params["blocks.0.mlp.in.weight"].grad = grad.clone()
    params["embed.weight"].grad = torch.randn(5, 3, generator=g)
    opt.step()
    sv = torch.linalg.svdvals(params["blocks.0.mlp.in.weight"].detach())
    assert float(sv.max() / sv.min()) < 2.0  # the gradient's ratio is 20
    assert torch.allclose(params["embed.weight"].detach().abs(), torch.full((5, 3), cfg.train.lr), rtol=1e-3)
