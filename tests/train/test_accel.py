"""Grokfast filters on hand-computed gradients, their exact resume, Omnigrok's init scale and fixed norm,
GrokTransfer's weak model and transferred embedding, and ⊥Grad's projection (grokinterp.train.accel)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from grokinterp import load_run
from grokinterp.config import ConfigError
from grokinterp.models import trainable_parameters
from grokinterp.presets import get_preset
from grokinterp.train import accel, train
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


def _run(f, grads_per_step, params):
    state = f.init(params)
    outs = []
    for grads in grads_per_step:
        out, state = f.update({n: torch.tensor([v], dtype=torch.float64) for n, v in grads.items()}, state)
        outs.append({n: t.item() for n, t in out.items()})
    return outs, state


def test_grokfast_ma_window_per_parameter():
    """A parameter without a gradient at a step is neither pushed nor counted (their deque per parameter)."""
    f = accel.GrokfastMA(window=2, lamb=1.0)
    params = {n: torch.zeros(1, dtype=torch.float64) for n in ("a", "b")}
    steps = [{"a": 1.0, "b": 10.0}, {"a": 2.0}, {"a": 3.0, "b": 20.0}, {"b": 40.0}]
    outs, state = _run(f, steps, params)
    assert outs[0] == {"a": 1.0, "b": 10.0}  # both warming up
    assert outs[1] == {"a": 2.0 + 1.5}  # a's window full: (1, 2); b gets nothing
    # a: (2, 3); b's window is (10, 20), its own two gradients (a global step count would have overwritten 10
    # at step 2 and averaged in the zero of step 1: 20 + 10)
    assert outs[2] == {"a": 3.0 + 2.5, "b": 20.0 + 15.0}
    assert outs[3] == {"b": 40.0 + 30.0}
    assert state["step"] == 4 and state["count"] == {"a": 3, "b": 3}


def test_grokfast_ma_without_warmup():
    """warmup=False: g + lamb * mean of the gradients held so far, from the first step."""
    f = accel.GrokfastMA(window=3, lamb=2.0, warmup=False)
    params = {n: torch.zeros(1, dtype=torch.float64) for n in ("a", "b")}
    steps = [{"a": 1.0}, {"a": 2.0, "b": 4.0}, {"a": 3.0}, {"a": 4.0, "b": -2.0}]
    outs, _ = _run(f, steps, params)
    assert outs == [
        {"a": 1.0 + 2 * 1.0},  # (1 + lamb) g on a parameter's first gradient
        {"a": 2.0 + 2 * 1.5, "b": 4.0 + 2 * 4.0},
        {"a": 3.0 + 2 * 2.0},
        {"a": 4.0 + 2 * 3.0, "b": -2.0 + 2 * 1.0},  # a's window (2, 3, 4); b's (4, -2)
    ]
    warm, _ = _run(accel.GrokfastMA(window=3, lamb=2.0), steps, params)
    assert [o["a"] for o in warm] == [1.0, 2.0, 3.0 + 2 * 2.0, 4.0 + 2 * 3.0] and warm[3]["b"] == -2.0


def test_make_filter_reads_warmup_when_the_config_has_it():
    cfg = SimpleNamespace(grokfast="ma", window=7, lamb=3.0)
    assert accel.make_filter(cfg) == accel.GrokfastMA(7, 3.0, warmup=True)
    assert accel.make_filter(SimpleNamespace(**vars(cfg), warmup=False)) == accel.GrokfastMA(7, 3.0, warmup=False)
    with pytest.raises(ValueError, match="window"):
        accel.GrokfastMA(window=0)


def test_grokfast_ema_keeps_the_average_of_a_parameter_without_a_gradient():
    f = accel.GrokfastEMA(alpha=0.5, lamb=1.0)
    params = {n: torch.zeros(1, dtype=torch.float64) for n in ("a", "b")}
    outs, state = _run(f, [{"a": 2.0, "b": 4.0}, {"a": 2.0}, {"a": 2.0, "b": 0.0}], params)
    assert outs[1] == {"a": 4.0} and outs[2] == {"a": 4.0, "b": 0.0 + 2.0}  # mu_b = 0.5 * 4 + 0.5 * 0
    back = accel.load_state(f, params, accel.state_tensors(state))
    assert back["mu"]["b"].item() == 2.0 and back["step"] == 3


def test_ma_state_round_trip_with_uneven_windows():
    f = accel.GrokfastMA(window=3, lamb=1.0, warmup=False)
    params = {n: torch.zeros(2, dtype=torch.float64) for n in ("a", "b")}
    state = f.init(params)
    for t, names in enumerate([("a", "b"), ("a",), ("a",), ("a", "b")]):
        _, state = f.update({n: torch.full((2,), float(t + 1), dtype=torch.float64) for n in names}, state)
    tensors = accel.state_tensors(state)
    assert tensors["grokfast.count.a"].item() == 4 and tensors["grokfast.count.b"].item() == 2
    back = accel.load_state(f, params, tensors)
    assert back["count"] == {"a": 4, "b": 2} and back["step"] == 4
    g = {"a": torch.full((2,), 9.0, dtype=torch.float64), "b": torch.full((2,), 6.0, dtype=torch.float64)}
    want, _ = f.update({n: t.clone() for n, t in g.items()}, state)
    got, _ = f.update({n: t.clone() for n, t in g.items()}, back)
    assert all(torch.equal(want[n], got[n]) for n in g)
    assert want["a"].tolist() == [9.0 + (3 + 4 + 9) / 3] * 2 and want["b"].tolist() == [6.0 + (1 + 4 + 6) / 3] * 2
    # a resume file written before per-parameter windows has no counts: every parameter pushed every step
    old = {k: v for k, v in tensors.items() if ".count." not in k}
    assert accel.load_state(f, params, old)["count"] == {"a": 4, "b": 4}


def test_state_round_trip():
    f = accel.GrokfastMA(window=2, lamb=1.0)
    params = {"a.weight": torch.zeros(2, 3)}
    _, state = f.update({"a.weight": torch.ones(2, 3)}, f.init(params))
    back = accel.load_state(f, params, accel.state_tensors(state))
    assert back["step"] == 1 and torch.equal(back["queue"]["a.weight"], state["queue"]["a.weight"])
    with pytest.raises(ValueError, match="no Grokfast state"):
        accel.load_state(f, params, {})


@pytest.mark.parametrize("kind", ["ema", "ma"])
def test_resume_with_grokfast_state_is_bitwise_identical(kind, tmp_path, threads):
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


WEAK = {"model.arch": "mlp", "model.d_model": 4, "model.d_mlp": 16, "train.lr": 0.01, "train.steps": 60,
        "train.ckpt_every": 20, "train.ckpt_log_points": 0}


@pytest.fixture(scope="module")
def weak_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("weak") / "run"
    train(tiny(**WEAK), out, progress=False)
    return load_run(out)


def test_weak_mlp_trains_and_both_engines_agree(weak_run):
    from grokinterp import models

    rows = weak_run.metrics
    assert rows[-1]["train_loss"] < 0.85 * rows[0]["train_loss"] and rows[-1]["train_acc"] > 3 * rows[0]["train_acc"]
    task = weak_run.task()
    model = weak_run.model()
    a = models.hooked_logits(model, task.tokens, (2,))
    b = models.fused_logits(weak_run.state_dict(), weak_run.config.model, task.tokens, (2,))
    assert torch.allclose(a, b)
    assert weak_run.state_dict()["embed.weight"].shape == (18, 4)


def _target(weak_run, **kw):
    return tiny(**{"accel.transfer_from": str(weak_run.path), "accel.transfer_acc": 0.0, "train.steps": 10,
                   "train.ckpt_every": 5, "train.ckpt_log_points": 0, **kw})


def test_grok_transfer_factored_puts_the_weak_embedding_in_exactly(weak_run, tmp_path):
    train(_target(weak_run), tmp_path / "t", progress=False)
    run = load_run(tmp_path / "t")
    meta = run.store.checkpoint_metadata(0)
    weak_step = int(meta["transfer_step"])
    assert weak_step == 0 and meta["transfer_from"] == str(weak_run.path)  # transfer_acc 0: the first checkpoint
    resume = run.store.latest_resume()[2]
    A0 = weak_run.state_dict(weak_step)["embed.weight"]
    start = run.store.load_checkpoint(0)["embed.weight"]
    # at step 0 the embedding is A B with A the weak embedding, exactly
    B0 = torch.linalg.lstsq(A0.double(), start.double()).solution
    assert torch.allclose((A0.double() @ B0).float(), start, atol=1e-5)
    assert resume["transfer.A"].shape == A0.shape and not torch.equal(resume["transfer.A"], A0)  # A trained
    final = run.state_dict()["embed.weight"]
    assert torch.allclose(resume["transfer.A"] @ resume["transfer.B"], final, atol=1e-6)


def test_grok_transfer_into_xu_et_al_s_fnn_target(weak_run, tmp_path):
    """Their FNN -> FNN row: the weak pair MLP's 4-d embedding into a deeper, wider pair MLP without biases."""
    target = _target(weak_run, **{"model.arch": "mlp", "model.d_model": 24, "model.d_mlp": 32, "model.n_layers": 2,
                                  "model.biases": "none"})
    train(target, tmp_path / "fnn", progress=False)
    run = load_run(tmp_path / "fnn")
    A0 = weak_run.state_dict(0)["embed.weight"]
    start = run.store.load_checkpoint(0)["embed.weight"]
    assert start.shape == (18, 24) and "mlp.hidden.0.weight" in run.state_dict()
    B0 = torch.linalg.lstsq(A0.double(), start.double()).solution  # the embedding is A B at step 0
    assert torch.allclose((A0.double() @ B0).float(), start, atol=1e-5)
    assert run.metrics[-1]["train_loss"] < run.metrics[0]["train_loss"]


def test_grok_transfer_factored_step0_a_is_the_weak_embedding(weak_run, tmp_path):
    train(_target(weak_run, **{"train.steps": 0}), tmp_path / "z", progress=False)
    resume = load_run(tmp_path / "z").store.latest_resume()[2]
    assert torch.equal(resume["transfer.A"], weak_run.state_dict(0)["embed.weight"])


def test_grok_transfer_merged_random_ablation_and_resume(weak_run, tmp_path, threads):
    train(_target(weak_run, **{"accel.transfer_mode": "merged", "train.steps": 0}), tmp_path / "m", progress=False)
    emb = load_run(tmp_path / "m").state_dict(0)["embed.weight"]
    A0 = weak_run.state_dict(0)["embed.weight"].double()
    assert torch.linalg.matrix_rank(emb.double(), rtol=1e-5) == 4  # float32 rounding aside
    assert torch.allclose(A0 @ torch.linalg.lstsq(A0, emb.double()).solution, emb.double(), atol=1e-5)
    train(_target(weak_run, **{"accel.transfer_random": True, "train.steps": 0}), tmp_path / "r", progress=False)
    rand = load_run(tmp_path / "r").store.latest_resume()[2]["transfer.A"]
    assert rand.shape == A0.shape and not torch.allclose(rand.double(), A0)
    # resume with the factors is bitwise identical
    train(_target(weak_run, **{"train.steps": 12}), tmp_path / "a", progress=False)
    train(_target(weak_run, **{"train.steps": 7}), tmp_path / "b", progress=False)
    train(_target(weak_run, **{"train.steps": 12}), tmp_path / "b", progress=False)
    a, b = load_run(tmp_path / "a").state_dict(), load_run(tmp_path / "b").state_dict()
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_grok_transfer_at_a_chosen_step_whatever_its_accuracy(weak_run, tmp_path):
    """RUN@STEP (Xu et al.'s FNN targets take the weak model after a fixed training time): that checkpoint's
    embedding, even where the accuracy rule would refuse (transfer_acc 1.0 is never reached)."""
    step = weak_run.steps[-1]
    assert step != 0
    cfg = _target(weak_run, **{"accel.transfer_from": f"{weak_run.path}@{step}", "accel.transfer_acc": 1.0,
                               "train.steps": 0})
    train(cfg, tmp_path / "at", progress=False)
    run = load_run(tmp_path / "at")
    assert int(run.store.checkpoint_metadata(0)["transfer_step"]) == step
    assert torch.equal(run.store.latest_resume()[2]["transfer.A"], weak_run.state_dict(step)["embed.weight"])
    with pytest.raises(ConfigError, match="no checkpoint at step 3 "):
        train(_target(weak_run, **{"accel.transfer_from": f"{weak_run.path}@3"}), tmp_path / "no", progress=False)


def test_grok_transfer_errors(weak_run, tmp_path):
    with pytest.raises(ConfigError, match="never reached"):
        train(_target(weak_run, **{"accel.transfer_acc": 1.0}), tmp_path / "x", progress=False)
    with pytest.raises(ConfigError, match="another task"):
        train(_target(weak_run, **{"task.seed": 5}), tmp_path / "y", progress=False)
    with pytest.raises(ConfigError, match="train.engine=fused"):
        _target(weak_run, **{"train.engine": "hooked"})
    with pytest.raises(ConfigError, match="model.arch"):
        tiny(**{"model.arch": "cnn"})


def test_weak_and_transfer_runs_have_reports(weak_run, tmp_path):
    from grokinterp.report import build_report

    page = build_report(weak_run.path, tmp_path / "w.html", progress=False).read_text()
    assert "The weak model&#x27;s embedding" in page or "The weak model's embedding" in page
    assert "Not computed" in page
    train(_target(weak_run), tmp_path / "t", progress=False)
    page = build_report(tmp_path / "t", progress=False).read_text()
    assert "Weight norm and loss" in page and "transfer_from=" in page


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


def test_grok_transfer_needs_an_input_embedding_on_both_sides(tmp_path):
    """GrokTransfer moves the input embedding (`Architecture.embedding`): a target without one is refused in one
    line when the config is built, a weak run without one when training starts."""
    with pytest.raises(ConfigError, match="has no input embedding"):
        get_preset("prieto-mlp").with_overrides({"accel.transfer_from": str(tmp_path / "weak")})
    weak = get_preset("prieto-mlp").with_overrides({"task.p": 17, "train.steps": 2, "train.device": "cpu"})
    train(weak, tmp_path / "weak", progress=False)
    target = tiny(**{"accel.transfer_from": str(tmp_path / "weak"), "accel.transfer_acc": 0.0, "train.steps": 2})
    target.task = weak.task
    with pytest.raises(ConfigError, match="the weak run .* has no input embedding"):
        train(target, tmp_path / "target", progress=False)


PARITY_SMALL = {"task.n_bits": 12, "task.k": 3, "task.n_train": 200, "task.n_test": 100, "train.steps": 4,
                "train.ckpt_every": 2, "train.ckpt_log_points": 0, "train.log_every": 2, "train.device": "cpu"}


@pytest.mark.parametrize("mode", ["factored", "merged"])
def test_grok_transfer_from_a_weak_parity_mlp(mode, tmp_path):
    """GrokTransfer between MLPs (Xu et al.'s parity rows): the embedding of an MLP is its first layer, one row
    per input feature (the transpose of `layers.0.weight`), so the target's first layer starts as (A B)^T with A
    the weak model's."""
    weak = get_preset("parity").with_overrides({**PARITY_SMALL, "model.n_layers": 1, "model.d_mlp": 2})
    train(weak, tmp_path / "weak", progress=False)
    A = load_run(tmp_path / "weak").state_dict(0)["layers.0.weight"].T  # (12 inputs, 2 neurons)
    target = get_preset("parity").with_overrides({**PARITY_SMALL, "model.d_mlp": 16, "accel.transfer_mode": mode,
                                                  "accel.transfer_from": str(tmp_path / "weak"),
                                                  "accel.transfer_acc": 0.0})
    train(target, tmp_path / "target", progress=False)
    run = load_run(tmp_path / "target")
    first = run.state_dict(0)["layers.0.weight"]  # (16, 12)
    assert first.shape == (16, 12) and torch.linalg.matrix_rank(first) == 2  # A B has the weak width's rank
    if mode == "factored":
        resume = run.store.latest_resume()[2]
        assert resume["transfer.A"].shape == (12, 2)
        assert torch.allclose(run.state_dict(run.steps[-1])["layers.0.weight"],
                              (resume["transfer.A"] @ resume["transfer.B"]).T, atol=1e-6)
    # at step 0, in both modes, every column of the first layer's transpose lies in the span of A's columns
    assert torch.allclose(first.T, A @ torch.linalg.lstsq(A, first.T).solution, atol=1e-5)


def test_pca_embedding_recovers_the_planted_input_directions():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(500, 10, dtype=torch.float64)
    x[:, 2] = 3.0 * torch.randn(500, generator=g, dtype=torch.float64)  # the two directions that vary
    x[:, 7] = 2.0 * torch.randn(500, generator=g, dtype=torch.float64)
    x += 1e-3 * torch.randn(500, 10, generator=g, dtype=torch.float64)
    A = accel.classical_embedding(x, torch.zeros(500, dtype=torch.long), "pca", 2)
    assert A.shape == (10, 2)
    assert A[:, 0].abs().argmax() == 2 and A[:, 1].abs().argmax() == 7  # largest variance first
    assert A[2, 0].abs() == pytest.approx(3.0, rel=0.1) and A[7, 1].abs() == pytest.approx(2.0, rel=0.1)


def test_lda_embedding_finds_the_planted_discriminant_axis():
    g = torch.Generator().manual_seed(1)
    y = torch.arange(600) % 3
    x = torch.randn(600, 8, generator=g, dtype=torch.float64)
    x[:, 5] += 4.0 * y  # the classes differ along input 5 only
    A = accel.classical_embedding(x, y, "lda", None)
    assert A.shape == (8, 2)  # classes - 1 axes
    assert A[:, 0].abs().argmax() == 5 and A[5, 0].abs() / A[:, 0].norm() > 0.95


def test_a_classical_embedding_starts_an_mlp_target_and_needs_float_inputs(tmp_path):
    target = get_preset("parity").with_overrides({**PARITY_SMALL, "model.d_mlp": 16, "accel.transfer_from": "pca:3"})
    train(target, tmp_path / "pca", progress=False)
    run = load_run(tmp_path / "pca")
    first = run.state_dict(0)["layers.0.weight"]
    assert torch.linalg.matrix_rank(first) == 3
    assert run.store.latest_resume()[3]["transfer_from"] == "pca:3"
    with pytest.raises(ConfigError, match="reads tokens"):
        tiny(**{"accel.transfer_from": "lda"})
    with pytest.raises(ConfigError, match="pca:K"):
        get_preset("parity").with_overrides({"accel.transfer_from": "pca"})
