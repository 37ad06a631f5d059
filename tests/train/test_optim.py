"""The optimisers (grokinterp.train.optim): Muon on the hidden matrices, and the embedding's own learning rate."""

from __future__ import annotations

import pytest
import torch

from grokinterp.presets import get_preset
from tests.helpers import tiny


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


def test_embedding_has_its_own_learning_rate(tmp_path):
    from grokinterp import load_run
    from grokinterp.train import train

    base = {"train.steps": 20, "train.device": "cpu", "model.d_model": 2, "model.d_mlp": 16}
    moved = {}
    for name, lrs in {"fast_embed": (1e-2, 1e-6), "slow_embed": (1e-6, 1e-2)}.items():
        cfg = get_preset("toy-add").with_overrides({**base, "train.embed_lr": lrs[0], "train.lr": lrs[1]})
        train(cfg, tmp_path / name, progress=False)
        run = load_run(tmp_path / name)
        a, b = run.state_dict(0), run.state_dict(20)
        moved[name] = {k: float((b[k] - a[k]).abs().max()) for k in ("embed.weight", "decoder.0.weight")}
    assert moved["fast_embed"]["embed.weight"] > 100 * moved["fast_embed"]["decoder.0.weight"]
    assert moved["slow_embed"]["decoder.0.weight"] > 100 * moved["slow_embed"]["embed.weight"]


def _norms_the_optimiser_sees(monkeypatch, cfg, out) -> list[float]:
    from grokinterp.train import train

    seen: list[float] = []
    real = torch.optim.AdamW.step

    def spy(self, *args, **kwargs):
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        seen.append(sum(float(g.double().pow(2).sum()) for g in grads) ** 0.5)
        return real(self, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(torch.optim.AdamW, "step", spy)
        train(cfg, out, progress=False)
    return seen


def test_grad_clip_bounds_the_gradient_the_optimiser_sees(monkeypatch, tmp_path):
    free = _norms_the_optimiser_sees(monkeypatch, tiny(**{"train.steps": 4}), tmp_path / "free")
    clip = min(free) / 10
    clipped = _norms_the_optimiser_sees(monkeypatch, tiny(**{"train.steps": 4, "train.grad_clip": clip}),
                                        tmp_path / "clipped")
    assert len(free) == len(clipped) == 4
    assert all(n <= clip * (1 + 1e-5) for n in clipped) and all(n > clip * 5 for n in free)


def test_grad_clip_is_off_by_default_and_refused_below_zero():
    from grokinterp.config import ConfigError
    from grokinterp.train.batched import why_not_batchable

    assert get_preset("power-compose").train.grad_clip == 0.0
    assert why_not_batchable(tiny(**{"train.grad_clip": 1.0})) == "gradient clipping trains one by one"
    with pytest.raises(ConfigError, match="train.grad_clip must be >= 0"):
        tiny(**{"train.grad_clip": -1.0})


@pytest.mark.parametrize("optimizer", ["adamw", "muon"])
def test_no_decay_tensors_keep_their_weights_where_the_rest_decay(optimizer):
    """Zero gradients: an update is weight decay alone, p <- p (1 - lr wd), except for the named tensors."""
    from grokinterp.train.optim import make_optimizer

    cfg = tiny(**{"train.optimizer": optimizer, "train.weight_decay": 0.5, "train.lr": 0.1,
                  "train.no_decay": ["embed.weight", "blocks.0.attn.q.weight"]})
    g = torch.Generator().manual_seed(0)
    names = ("embed.weight", "pos_embed.weight", "blocks.0.attn.q.weight", "blocks.0.attn.k.weight")
    params = {n: torch.nn.Parameter(torch.randn(4, 4, generator=g)) for n in names}
    before = {n: p.detach().clone() for n, p in params.items()}
    opt = make_optimizer(cfg, params)
    for p in params.values():
        p.grad = torch.zeros_like(p)
    opt.step()
    for n in names:
        kept = n in cfg.train.no_decay
        assert torch.allclose(params[n].detach(), before[n] * (1.0 if kept else 1 - 0.1 * 0.5)), n
    assert sorted(g["weight_decay"] for g in opt.param_groups) == sorted([0.0, 0.5] * (2 if optimizer == "muon" else 1))


def test_no_decay_is_checked_and_recorded():
    from grokinterp.config import ConfigError
    from grokinterp.train.batched import why_not_batchable
    from grokinterp.train.optim import make_optimizer

    cfg = tiny(**{"train.no_decay": ["embed.weight", "pos_embed.weight"]})
    assert cfg.train.no_decay == ("embed.weight", "pos_embed.weight")
    assert type(cfg).from_json(cfg.to_json()).train.no_decay == cfg.train.no_decay
    assert "no weight decay on embed.weight, pos_embed.weight" in cfg.train.describe_optimizer()
    assert why_not_batchable(cfg) == "tensors out of weight decay (train.no_decay) train one by one"
    assert tiny().train.no_decay == () and why_not_batchable(tiny()) is None
    assert tiny(**{"train.no_decay": "embed.weight, pos_embed.weight"}).train.no_decay == cfg.train.no_decay
    assert tiny().with_overrides(["train.no_decay=embed.weight"]).train.no_decay == ("embed.weight",)
    with pytest.raises(ConfigError, match="train.no_decay must be a list"):
        tiny(**{"train.no_decay": 3})
    with pytest.raises(ConfigError, match="train.no_decay must be a string"):
        tiny(**{"train.no_decay": [3]})
    with pytest.raises(ConfigError, match="names a tensor twice"):
        tiny(**{"train.no_decay": ["embed.weight", "embed.weight"]})
    bad = tiny(**{"train.no_decay": ["embed.W_E"]})
    with pytest.raises(ConfigError, match=r"train.no_decay names embed.W_E: not a trainable tensor .*embed.weight"):
        make_optimizer(bad, {"embed.weight": torch.nn.Parameter(torch.zeros(2, 2))})


def test_a_run_without_decay_on_its_embeddings_resumes_bitwise(tmp_path, threads):
    from grokinterp.train import train
    from tests.helpers import assert_bitwise_equal, final_tensors, metrics_wo_time

    keep = {"train.no_decay": ["embed.weight", "pos_embed.weight"]}
    long = tiny(**keep)
    train(long, tmp_path / "long", progress=False)
    train(tiny(**keep, **{"train.steps": 33}), tmp_path / "split", progress=False)
    train(long, tmp_path / "split", progress=False)
    assert_bitwise_equal(final_tensors(tmp_path / "long"), final_tensors(tmp_path / "split"))
    assert metrics_wo_time(tmp_path / "long") == metrics_wo_time(tmp_path / "split")
    plain = tiny()
    train(plain, tmp_path / "plain", progress=False)
    a, b = final_tensors(tmp_path / "long"), final_tensors(tmp_path / "plain")
    assert float(a["embed.weight"].norm()) > float(b["embed.weight"].norm())  # decay shrank only the plain run's
