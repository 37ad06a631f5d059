"""Power et al.'s transformer (`grokinterp.models.power`): their architecture, its hook names, dropout, training
with their regularisers, and the settings it refuses.

The reference below is written the way their `grok/transformer.py` is (one module per head, concatenated
heads, post-LayerNorm blocks, `nn.Sequential` FFN), independently of `power_resid`, and loaded with the
same tensors: the two must compute the same logits."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from grokinterp.config import ConfigError
from grokinterp.models import architecture_of, fused_logits
from grokinterp.models.power import build_power_model, sinusoid
from grokinterp.runs.run import load_run
from grokinterp.tasks import make_task
from grokinterp.train import train
from grokinterp.train.single import SingleStepper
from tests.helpers import power_small


class Head(nn.Module):
    def __init__(self, d_model, d_key):
        super().__init__()
        self.Wq, self.Wk, self.Wv = (nn.Linear(d_model, d_key, bias=False) for _ in range(3))

    def forward(self, x, mask):
        q, k, v = self.Wq(x), self.Wk(x), self.Wv(x)
        attn = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        attn = attn.masked_fill(mask == 0, float("-inf")).softmax(-1)
        return attn @ v


class Block(nn.Module):
    def __init__(self, d_model, heads, d_ff):
        super().__init__()
        self.heads = nn.ModuleList(Head(d_model, d_model // heads) for _ in range(heads))
        self.Wo = nn.Linear(d_model, d_model, bias=False)
        self.attn_norm = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(nn.Linear(d_model, d_ff, bias=False), nn.ReLU(), nn.Linear(d_ff, d_model, bias=False))
        self.ffn_norm = nn.LayerNorm(d_model)

    def forward(self, x, mask):
        a1 = self.attn_norm(x + self.Wo(torch.cat([h(x, mask) for h in self.heads], dim=-1)))
        return self.ffn_norm(a1 + self.ffn(a1))


def reference_logits(tensors, cfg, tokens):
    """Their architecture, one head per module, from our checkpoint tensors."""
    d, nh, dh = cfg.d_model, cfg.n_heads, cfg.d_head
    blocks = [Block(d, nh, cfg.d_mlp) for _ in range(cfg.n_layers)]
    with torch.no_grad():
        for i, b in enumerate(blocks):
            t = {k[len(f"blocks.{i}."):]: v for k, v in tensors.items() if k.startswith(f"blocks.{i}.")}
            for h, head in enumerate(b.heads):
                for w, name in ((head.Wq, "q"), (head.Wk, "k"), (head.Wv, "v")):
                    w.weight.copy_(t[f"attn.{name}.weight"][h * dh:(h + 1) * dh])
            b.Wo.weight.copy_(t["attn.o.weight"])
            b.attn_norm.weight.copy_(t["ln1.weight"]), b.attn_norm.bias.copy_(t["ln1.bias"])
            b.ffn[0].weight.copy_(t["mlp.in.weight"]), b.ffn[2].weight.copy_(t["mlp.out.weight"])
            b.ffn_norm.weight.copy_(t["ln2.weight"]), b.ffn_norm.bias.copy_(t["ln2.bias"])
        n = tokens.shape[1]
        pe = torch.tensor([[math.sin(pos / 10000 ** (i / d)) if i % 2 == 0 else math.cos(pos / 10000 ** ((i - 1) / d))
                            for i in range(d)] for pos in range(n)])
        x = tensors["embed.weight"][tokens] + pe
        mask = torch.ones(n, n).tril()
        for b in blocks:
            x = b(x, mask)
        return x @ tensors["unembed.weight"].T


def _trained_tensors(cfg, steps=5):
    task = make_task(cfg.task)
    st = SingleStepper(cfg, task, torch.device("cpu"))
    for s in range(steps):
        st.update(s, st.forward(s), [True])
    return st, task


def test_their_architecture_written_their_way_gives_the_same_logits():
    cfg = power_small(**{"model.n_layers": 2})
    st, task = _trained_tensors(cfg)  # a few steps, so that the LayerNorms are not at 1 and 0
    tensors = {k: v.detach() for k, v in st.params.items()}
    assert not torch.equal(tensors["blocks.0.ln1.weight"], torch.ones(32))
    x = task.tokens[:50]
    ref = reference_logits(tensors, cfg.model, x)
    with torch.no_grad():
        ours = st.model(x)
        fused = fused_logits(tensors, cfg.model, x, task.answer_pos)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fused, ref[:, list(task.answer_pos)], rtol=1e-5, atol=1e-5)


def test_sinusoid_is_their_formula():
    d = 16
    pe = sinusoid(7, d)
    for pos in range(7):
        for i in range(d):
            want = math.sin(pos / 10000 ** (i / d)) if i % 2 == 0 else math.cos(pos / 10000 ** ((i - 1) / d))
            assert pe[pos, i].item() == pytest.approx(want, abs=1e-6)


def test_hook_points_carry_transformerlens_names():
    cfg = power_small()
    task = make_task(cfg.task)
    model = build_power_model(cfg.model, task.d_vocab, task.d_vocab_out, task.n_ctx)
    logits, cache = model.run_with_cache(task.tokens[:8])
    pattern = cache["blocks.0.attn.hook_pattern"]  # (batch, head, query, key)
    assert pattern.shape == (8, 4, 6, 6)
    torch.testing.assert_close(pattern.sum(-1), torch.ones(8, 4, 6))
    assert torch.all(pattern.triu(1) == 0)  # causal
    last = f"blocks.{cfg.model.n_layers - 1}.hook_resid_post"
    torch.testing.assert_close(cache[last] @ model.W_U, logits)
    for name in ("hook_embed", "hook_pos_embed", "blocks.0.hook_resid_mid", "blocks.0.mlp.hook_post",
                 "blocks.0.attn.hook_z", "blocks.0.hook_mlp_out"):
        assert name in cache
    # post-LayerNorm: the residual stream after each block is normalised
    torch.testing.assert_close(cache["blocks.0.ln2.hook_normalized"].mean(-1), torch.zeros(8, 6), atol=1e-5, rtol=0)


def test_dropout_zeroes_that_fraction_of_the_ffn_output():
    cfg = power_small(**{"model.dropout": 0.25})
    task = make_task(cfg.task)
    model = build_power_model(cfg.model, task.d_vocab, task.d_vocab_out, task.n_ctx)
    _, cache = model.run_with_cache(task.tokens, dropout_generator=torch.Generator().manual_seed(0))
    dropped = cache["blocks.0.hook_mlp_out"]
    assert (dropped == 0).float().mean().item() == pytest.approx(0.25, abs=0.01)
    _, cache = model.run_with_cache(task.tokens)
    clean = cache["blocks.0.hook_mlp_out"]
    assert (clean == 0).float().mean().item() < 0.01
    kept = dropped != 0  # nn.Dropout's scaling: the kept entries are divided by 1 - p
    torch.testing.assert_close(dropped[kept], clean[kept] / 0.75)


def test_regularised_run_resumes_bitwise(tmp_path, threads):
    cfg = power_small(**{"model.dropout": 0.1, "train.weight_noise": 0.01})
    train(cfg, tmp_path / "long", progress=False)
    train(cfg.with_overrides({"train.steps": 7}), tmp_path / "split", progress=False)
    train(cfg, tmp_path / "split", progress=False)
    a, b = load_run(tmp_path / "long"), load_run(tmp_path / "split")
    for k, v in a.state_dict(12).items():
        assert torch.equal(v, b.state_dict(12)[k]), k
    assert [r["train_loss"] for r in a.metrics] == [r["train_loss"] for r in b.metrics]


def test_hooked_engine_trains_power_alike(tmp_path):
    f = train(power_small(**{"train.engine": "fused"}), tmp_path / "f", progress=False)
    h = train(power_small(**{"train.engine": "hooked"}), tmp_path / "h", progress=False)
    assert f.metrics["train_loss"] == pytest.approx(h.metrics["train_loss"], rel=1e-4)
    # with noise: the same weight noise; the last layer's dropout masks differ (all positions vs the scored)
    reg = {"train.weight_noise": 0.01, "model.dropout": 0.1}
    f = train(power_small(**{"train.engine": "fused", **reg}), tmp_path / "fr", progress=False)
    h = train(power_small(**{"train.engine": "hooked", **reg}), tmp_path / "hr", progress=False)
    assert f.metrics["train_loss"] == pytest.approx(h.metrics["train_loss"], rel=1e-2)


@pytest.mark.parametrize("override, words", [
    ({"model.arch": "transformer", "model.dropout": 0.1}, "model.dropout is for"),
    ({"task.format": "prefix"}, "task.format must be"),
    ({"model.attn_only": True}, "post-LayerNorm"),
    ({"train.batch_size": -2}, "train.batch_size"),
    ({"train.weight_noise": -1.0}, "train.weight_noise"),
    ({"model.arch": "transformer", "train.weight_noise": 0.01, "train.engine": "hooked"}, "needs train.engine=fused"),
])
def test_bad_settings_are_refused_in_one_line(override, words):
    with pytest.raises(ConfigError, match=words):
        power_small(**override)


def test_their_shared_vocabulary_widens_the_embedding_and_the_softmax(tmp_path):
    """`model.d_vocab=239`: Power et al.'s one vocabulary for every task. The task's 16 tokens come first, the
    other rows are tokens no example uses, and the loss's softmax covers all 239: at initialisation the
    scored positions' loss grows by about log(239 / 16) nats (their initial loss was 5.72 on add, ours 4.71)."""
    narrow = train(power_small(**{"train.steps": 1, "train.warmup_steps": 1}), tmp_path / "n", progress=False)
    wide = train(power_small(**{"train.steps": 1, "train.warmup_steps": 1, "model.d_vocab": 239}), tmp_path / "w",
                 progress=False)
    run = load_run(tmp_path / "w")
    sd = run.state_dict(0)
    assert sd["embed.weight"].shape == (239, 32) and sd["unembed.weight"].shape == (239, 32)
    assert run.model(step=1)(run.task().tokens[:3]).shape[-1] == 239  # the hooked model, from the checkpoint
    assert "239-token vocabulary" in architecture_of(run.config.model).describe(run.config.model)
    grow = load_run(tmp_path / "w").metrics[0]["train_loss"] - load_run(tmp_path / "n").metrics[0]["train_loss"]
    assert 0.5 * math.log(239 / 16) < grow < 1.5 * math.log(239 / 16)
    assert narrow.step == wide.step == 1


@pytest.mark.parametrize("override, words", [
    ({"model.d_vocab": 10}, "smaller than the task's vocabulary"),
    ({"model.d_vocab": -1}, "model.d_vocab must be 0"),
])
def test_a_shared_vocabulary_smaller_than_the_task_is_refused(override, words, tmp_path):
    with pytest.raises(ConfigError, match=words):
        train(power_small(**override), tmp_path / "r", progress=False)


def test_a_shared_vocabulary_is_for_the_transformers():
    from tests.helpers import tiny

    with pytest.raises(ConfigError, match="model.d_vocab is for the transformers"):
        tiny(**{"model.arch": "mlp", "model.d_vocab": 64})
    assert tiny(**{"model.d_vocab": 64}).model.d_vocab == 64  # the TL-native transformer takes it
