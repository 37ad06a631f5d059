"""Model batching (`grokinterp.train.batched`): many small runs trained together with torch.func.vmap, each into
its own run directory, against the same runs trained one by one."""

from __future__ import annotations

import pytest
import torch

from grokinterp import load_run
from grokinterp.config import ConfigError
from grokinterp.presets import get_preset
from grokinterp.train import train
from grokinterp.train.batched import batch_key, train_batched, why_not_batchable
from tests.helpers import assert_close_relative, tiny

TOY = {"train.steps": 120, "train.device": "cpu", "train.ckpt_every": 40, "model.d_mlp": 32}
GRID = [{"train.lr": lr, "train.weight_decay": wd} for lr in (1e-4, 3e-3) for wd in (0.0, 5.0)]


def toy(**overrides):
    return get_preset("toy-add").with_overrides({**TOY, **overrides})


def test_batched_runs_follow_their_sequential_twins(tmp_path):
    cfgs = [toy(**g) for g in GRID] + [toy(**{"model.seed": 1, "accel.init_scale": 2.0})]
    train_batched(cfgs, [tmp_path / f"b{i}" for i in range(len(cfgs))], progress=False)
    for i, cfg in enumerate(cfgs):
        train(cfg, tmp_path / f"s{i}", progress=False)
        b, s = load_run(tmp_path / f"b{i}"), load_run(tmp_path / f"s{i}")
        assert b.steps == s.steps and b.config == s.config
        assert [r["step"] for r in b.metrics] == [r["step"] for r in s.metrics]
        assert_close_relative(b.state_dict(), s.state_dict(), 1e-4)
        assert b.metrics[-1]["train_loss"] == pytest.approx(s.metrics[-1]["train_loss"], rel=1e-3, abs=1e-6)
        assert [r["train_softmax_collapse"] for r in b.metrics] == pytest.approx(
            [r["train_softmax_collapse"] for r in s.metrics], abs=0.05)  # both engines log Prieto et al.'s SC
        # step 0: the same init (seed and init scale) as train()
        assert all(torch.equal(b.state_dict(0)[k], s.state_dict(0)[k]) for k in b.state_dict(0))


def test_transformers_batch_too(tmp_path):
    cfgs = [tiny(**{"model.seed": seed, "train.steps": 30}) for seed in (0, 1)]
    train_batched(cfgs, [tmp_path / "a", tmp_path / "b"], progress=False)
    train(cfgs[1], tmp_path / "s", progress=False)
    assert_close_relative(load_run(tmp_path / "b").state_dict(), load_run(tmp_path / "s").state_dict(), 1e-4)


def test_interrupted_batch_resumes_bitwise_and_train_can_extend_a_batched_run(tmp_path, threads):
    short = [toy(**g).with_overrides({"train.steps": 60}) for g in GRID]
    full = [toy(**g) for g in GRID]
    train_batched(short, [tmp_path / f"r{i}" for i in range(4)], progress=False)
    train_batched(full, [tmp_path / f"r{i}" for i in range(4)], progress=False)  # resumes at 60
    train_batched(full, [tmp_path / f"u{i}" for i in range(4)], progress=False)
    for i in range(4):
        r, u = load_run(tmp_path / f"r{i}"), load_run(tmp_path / f"u{i}")
        assert set(r.steps) == set(u.steps) | {60}  # plus the end of the first, shorter budget
        assert all(torch.equal(r.state_dict()[k], u.state_dict()[k]) for k in u.state_dict())
        assert [m["train_loss"] for m in r.metrics] == [m["train_loss"] for m in u.metrics]
    # the optimizer state is in train()'s format: train() extends a batched run like its own
    train(full[0].with_overrides({"train.steps": 160}), tmp_path / "r0", progress=False)
    train(full[0].with_overrides({"train.steps": 160}), tmp_path / "seq", progress=False)
    assert_close_relative(load_run(tmp_path / "r0").state_dict(), load_run(tmp_path / "seq").state_dict(), 1e-4)


def test_what_batches():
    assert batch_key(toy(**{"train.lr": 1.0})) == batch_key(toy(**{"model.seed": 3, "train.steps": 5}))
    assert batch_key(toy()) != batch_key(toy(**{"model.d_mlp": 16}))
    assert why_not_batchable(toy()) is None
    assert "Grokfast" in why_not_batchable(toy(**{"accel.grokfast": "ema"}))
    assert "minibatch" in why_not_batchable(toy(**{"train.batch_size": 8}))
    with pytest.raises(ConfigError, match="differ only"):
        train_batched([toy(), toy(**{"model.d_mlp": 16})], ["/nonexistent/a", "/nonexistent/b"], progress=False)


def test_the_per_run_update_is_torchs_fused_adamw():
    from grokinterp.train.batched import _adamw_

    g = torch.Generator().manual_seed(0)
    stack, grad = torch.randn(3, 4, 6, generator=g), torch.randn(3, 4, 6, generator=g)
    m, v, first = torch.zeros(3, 4, 6), torch.zeros(3, 4, 6), stack[0].clone()
    ref = torch.nn.Parameter(stack[1].clone())
    opt = torch.optim.AdamW([ref], lr=1e-2, weight_decay=0.5, betas=(0.9, 0.98), eps=1e-8, fused=True)
    for step in (1, 2):
        ref.grad = grad[1] * step
        opt.step()
        _adamw_([stack[1]], [grad[1] * step], [m[1]], [v[1]], step, 1e-2, 0.5, (0.9, 0.98), 1e-8)
    assert torch.equal(stack[1], ref.detach())  # bitwise: the same kernel on the same numbers
    assert torch.equal(m[0], torch.zeros(4, 6)) and torch.equal(stack[0], first)  # other runs' slices untouched
