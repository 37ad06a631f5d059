"""Power et al.'s transformer (`grokinterp.power`), their equation format and their regularisers.

The reference below is written the way their `grok/transformer.py` is (one module per head, concatenated
heads, post-LayerNorm blocks, `nn.Sequential` FFN), independently of `power_resid`, and loaded with the
same tensors: the two must compute the same logits."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from grokinterp.config import ConfigError
from grokinterp.models import fused_logits, fused_scored
from grokinterp.models.power import build_power_model, sinusoid
from grokinterp.presets import PRESETS, get_preset
from grokinterp.runs.run import load_run
from grokinterp.tasks import make_task
from grokinterp.train import train
from grokinterp.train.single import SingleStepper, batch_size

SMALL = {"task.p": 13, "model.d_model": 32, "model.n_heads": 4, "model.d_head": 8, "model.d_mlp": 64,
         "train.steps": 12, "train.ckpt_every": 6, "train.ckpt_log_points": 0, "train.log_every": 3,
         "train.device": "cpu"}


def small(**kw):
    return get_preset("power-add").with_overrides({**SMALL, **kw})


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
    cfg = small(**{"model.n_layers": 2})
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
    cfg = small()
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


def test_power_format_writes_their_equations_on_the_same_split():
    pair = make_task(small(**{"task.format": "pair"}).task)
    eq = make_task(small().task)
    p = 13
    assert eq.tokens.shape == (len(pair.tokens), 6) and eq.answer_pos == (4, 5)
    assert eq.d_vocab == eq.d_vocab_out == p + 3
    assert torch.equal(eq.tokens[:, 1], pair.tokens[:, 0]) and torch.equal(eq.tokens[:, 3], pair.tokens[:, 1])
    assert torch.all(eq.tokens[:, 0] == p + 2) and torch.all(eq.tokens[:, 2] == p + 1)
    assert torch.all(eq.tokens[:, 4] == p)
    assert torch.equal(eq.tokens[:, 5], pair.labels[:, 0])  # teacher-forced answer predicts the closing <eos>
    assert torch.equal(eq.labels, torch.stack([pair.labels[:, 0], torch.full_like(pair.labels[:, 0], p + 2)], 1))
    assert torch.equal(eq.train_idx, pair.train_idx)
    s5 = make_task(get_preset("power-compose").task)
    assert s5.tokens.shape == (14400, 6) and s5.d_vocab == 123


def test_every_power_preset_validates_with_their_optimiser():
    names = [n for n in PRESETS if n.startswith("power-")]
    assert {"power-add", "power-sub", "power-div", "power-odd_div", "power-x2_y2", "power-x3_xy2_y",
            "power-compose", "power-conj", "power-aba"} <= set(names)
    for n in names:
        cfg = get_preset(n)
        assert cfg.model.arch == "power" and cfg.model.n_layers == 2 and cfg.train.steps == 100_000
        assert cfg.train.betas == (0.9, 0.98) and cfg.train.weight_decay == 1.0 and cfg.train.batch_size == -1
        assert getattr(cfg.task, "p", 97) == 97


def test_their_batch_size_rule():
    assert batch_size(-1, 4656) == 512 and batch_size(-1, 301) == 151 and batch_size(-1, 2) == 1
    assert batch_size(0, 100) == 0 and batch_size(64, 100) == 64


def test_dropout_and_weight_noise_are_seeded_by_step_and_only_in_training():
    cfg = small(**{"model.dropout": 0.3, "train.weight_noise": 0.05})
    task = make_task(cfg.task)
    a, b = SingleStepper(cfg, task, torch.device("cpu")), SingleStepper(cfg, task, torch.device("cpu"))
    clean = SingleStepper(small(), task, torch.device("cpu"))
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
        ev0 = fused_scored(clean.params, small().model, x, task.answer_pos, y).loss()
    assert ev.item() == ev0.item()


def test_dropout_zeroes_that_fraction_of_the_ffn_output():
    cfg = small(**{"model.dropout": 0.25})
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
    cfg = small(**{"model.dropout": 0.1, "train.weight_noise": 0.01})
    train(cfg, tmp_path / "long", progress=False)
    train(cfg.with_overrides({"train.steps": 7}), tmp_path / "split", progress=False)
    train(cfg, tmp_path / "split", progress=False)
    a, b = load_run(tmp_path / "long"), load_run(tmp_path / "split")
    for k, v in a.state_dict(12).items():
        assert torch.equal(v, b.state_dict(12)[k]), k
    assert [r["train_loss"] for r in a.metrics] == [r["train_loss"] for r in b.metrics]


def test_hooked_engine_trains_power_alike(tmp_path):
    f = train(small(**{"train.engine": "fused"}), tmp_path / "f", progress=False)
    h = train(small(**{"train.engine": "hooked"}), tmp_path / "h", progress=False)
    assert f.metrics["train_loss"] == pytest.approx(h.metrics["train_loss"], rel=1e-4)
    # with noise: the same weight noise; the last layer's dropout masks differ (all positions vs the scored)
    reg = {"train.weight_noise": 0.01, "model.dropout": 0.1}
    f = train(small(**{"train.engine": "fused", **reg}), tmp_path / "fr", progress=False)
    h = train(small(**{"train.engine": "hooked", **reg}), tmp_path / "hr", progress=False)
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
        small(**override)


def test_dlog_view_finds_a_planted_subtraction_frequency():
    from grokinterp.analysis.fourier import dlog_order
    from grokinterp.report.sections.modular import dlog_view
    from grokinterp.tasks.modular import ModularSpec

    p, k = 13, 2
    # an embedding that is a pure frequency-k wave of the discrete log: row g^i = (cos, sin)(2 pi k i / (p-1))
    W = torch.zeros(p, 4)
    for i, r in enumerate(dlog_order(p)):
        W[r, 0], W[r, 1] = math.cos(2 * math.pi * k * i / (p - 1)), math.sin(2 * math.pi * k * i / (p - 1))
    fig, text = dlog_view(ModularSpec(op="div", p=p), W)
    assert "subtraction of exponents mod 12" in text and "mod 12 there: 2 " in text
    assert dlog_view(ModularSpec(op="add", p=p), W) is None


def test_reports_of_power_runs(tmp_path):
    from grokinterp.report import build_report

    div = small(**{"task.op": "div", "train.steps": 6, "train.ckpt_every": 6})
    train(div, tmp_path / "div", progress=False)
    page = build_report(tmp_path / "div", progress=False).read_text()
    assert "Power et al.&#x27;s transformer" in page or "Power et al.'s transformer" in page
    assert "discrete-log order" in page and "subtraction of exponents mod 12" in page
    s4 = get_preset("power-compose").with_overrides({**{k: v for k, v in SMALL.items() if k != "task.p"},
                                                     "task.n": 4, "train.steps": 6, "train.ckpt_every": 6})
    train(s4, tmp_path / "s4", progress=False)
    page = build_report(tmp_path / "s4", progress=False).read_text()
    assert "Best coset partitions of the W_U rows" in page and "W_L rows" not in page
