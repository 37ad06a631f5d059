"""The TransformerLens transformer (grokinterp.models.transformer): the bridge interface, inits, bias
freezing."""

from __future__ import annotations

import math
import re

import pytest
import torch

from grokinterp.config import ModelConfig
from grokinterp.models import build_model, named_tensors, trainable_parameters
from tests.helpers import small_model_config

ATTN_BIAS = re.compile(r"^blocks\.\d+\.attn\.[qkvo]\.bias$")
MLP_BIAS = re.compile(r"^blocks\.\d+\.mlp\.(in|out)\.bias$")


def test_bridge_interface_and_cache():
    cfg = small_model_config(n_layers=2, normalization_type="LN", biases="all")
    d_vocab, d_vocab_out, n_ctx = 8, 9, 3
    model = build_model(cfg, d_vocab, d_vocab_out, n_ctx)
    p = named_tensors(model)
    assert torch.equal(model.W_E, p["embed.weight"]) and model.W_E.shape == (d_vocab, cfg.d_model)
    assert torch.equal(model.W_U, p["unembed.weight"].T) and model.W_U.shape == (cfg.d_model, d_vocab_out)
    wq = model.blocks[0].attn.W_Q
    assert wq.shape == (cfg.n_heads, cfg.d_model, cfg.d_head)
    q = p["blocks.0.attn.q.weight"]
    for h in range(cfg.n_heads):
        assert torch.equal(wq[h], q[h * cfg.d_head:(h + 1) * cfg.d_head].T)

    tokens = torch.randint(0, d_vocab, (5, n_ctx))
    logits, cache = model.run_with_cache(tokens)
    assert logits.shape == (5, n_ctx, d_vocab_out)
    assert torch.allclose(logits, model(tokens))
    for layer in range(cfg.n_layers):
        pattern = cache[f"blocks.{layer}.attn.hook_pattern"]
        assert pattern.shape == (5, cfg.n_heads, n_ctx, n_ctx)
        assert torch.allclose(pattern.sum(-1), torch.ones(5, cfg.n_heads, n_ctx), atol=1e-6)
        assert torch.all(pattern.triu(diagonal=1) == 0)  # causal
        post = cache[f"blocks.{layer}.mlp.hook_post"]
        assert post.shape == (5, n_ctx, cfg.d_mlp)
        assert torch.allclose(post, torch.relu(cache[f"blocks.{layer}.mlp.hook_pre"]))


def test_paper_init_statistics():
    cfg = ModelConfig(d_model=128, n_heads=4, d_head=32, d_mlp=512, init="paper", biases="all", seed=0)
    d_vocab = 114
    p = named_tensors(build_model(cfg, d_vocab, d_vocab, 3))
    assert abs(p["embed.weight"].std().item() * math.sqrt(128) - 1) < 0.05
    assert abs(p["unembed.weight"].std().item() * math.sqrt(d_vocab) - 1) < 0.05
    for name in ("blocks.0.attn.q.weight", "blocks.0.mlp.in.weight", "blocks.0.mlp.out.weight"):
        assert abs(p[name].std().item() * math.sqrt(128) - 1) < 0.05, name
        assert abs(p[name].mean().item()) < 0.01, name
    biases = [n for n in p if ATTN_BIAS.match(n) or MLP_BIAS.match(n)]
    assert len(biases) == 6
    for name in biases:
        assert torch.all(p[name] == 0), name


@pytest.mark.parametrize("init", ["paper", "tl"])
def test_seed_determinism(init):
    a = named_tensors(build_model(small_model_config(init=init, seed=1), 7, 7, 3))
    b = named_tensors(build_model(small_model_config(init=init, seed=1), 7, 7, 3))
    c = named_tensors(build_model(small_model_config(init=init, seed=2), 7, 7, 3))
    assert a.keys() == b.keys() == c.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    for name in ("embed.weight", "pos_embed.weight", "blocks.0.attn.q.weight", "unembed.weight"):
        assert not torch.equal(a[name], c[name]), name


@pytest.mark.parametrize("biases", ["mlp", "none", "all"])
@pytest.mark.parametrize("init", ["paper", "tl"])
def test_bias_freezing(biases, init):
    model = build_model(small_model_config(n_layers=2, biases=biases, init=init), 7, 7, 3)
    p = named_tensors(model)
    bias_names = [n for n in p if ATTN_BIAS.match(n) or MLP_BIAS.match(n)]
    assert len(bias_names) == 12
    for name in bias_names:
        t = p[name]
        assert isinstance(t, torch.nn.Parameter)
        trains = biases == "all" or (biases == "mlp" and MLP_BIAS.match(name) is not None)
        assert t.requires_grad == trains, name
        if not trains:
            assert torch.all(t == 0), name
    weights = [n for n, t in p.items() if isinstance(t, torch.nn.Parameter) and n.endswith(".weight")]
    trainable = trainable_parameters(model)
    expected = set(weights) | {n for n in bias_names if p[n].requires_grad}
    assert set(trainable) == expected
    # the same Parameter objects as the module's own trainable parameters (which TL names differently)
    assert {id(t) for t in trainable.values()} == {id(t) for t in model.parameters() if t.requires_grad}
    for name, t in trainable.items():
        assert t is p[name]  # live Parameters, so an optimiser on them trains the model


def test_frozen_biases_get_no_gradient():
    model = build_model(small_model_config(biases="mlp"), 7, 7, 3)
    model(torch.randint(0, 7, (4, 3))).sum().backward()
    p = named_tensors(model)
    assert p["blocks.0.attn.q.bias"].grad is None
    assert p["blocks.0.mlp.in.bias"].grad is not None


@pytest.mark.parametrize("layout", [
    {},
    {"n_layers": 2, "normalization_type": "LN", "attn_only": True, "biases": "none"},
    {"normalization_type": "LN", "act_fn": "gelu", "biases": "all", "seed": 3},
    {"n_layers": 3, "d_mlp": 96, "n_heads": 2, "d_head": 12},
])
def test_the_fused_engines_bare_tensors_are_the_bridges_bitwise(layout):
    """`build_tensors` makes the paper-initialised transformer's tensors without TransformerLens: the same
    names in the same order (checkpoints and seeded analyses depend on it), values, buffers and frozen biases."""
    from grokinterp.models import build_tensors

    cfg = small_model_config(**{"init": "paper", **layout})
    hooked = named_tensors(build_model(cfg, 19, 17, 3))
    bare = named_tensors(build_tensors(cfg, 19, 17, 3))
    assert list(bare) == list(hooked)
    for name, t in hooked.items():
        assert type(bare[name]) is type(t) and bare[name].requires_grad == t.requires_grad, name
        assert torch.equal(bare[name], t), name
    # TransformerLens's own init cannot be redrawn without it: the hooked model is built
    tl = small_model_config(init="tl")
    assert type(build_tensors(tl, 19, 17, 3)).__name__ == type(build_model(tl, 19, 17, 3)).__name__
