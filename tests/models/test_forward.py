"""The forward passes (grokinterp.models.forward): the fused engine against the hooked TL forward (logits,
gradients, and the scored rows of `fused_scored`)."""

from __future__ import annotations

import itertools

import pytest
import torch

from grokinterp import models
from grokinterp.config import ModelConfig
from grokinterp.models import (
    build_model,
    fused_logits,
    fused_scored,
    hooked_logits,
    is_bias,
    named_tensors,
    trainable_parameters,
)
from grokinterp.scoring import Scored, answer_loss

D_VOCAB = 7


N_CTX = 12  # long enough that some attention calls take the einsum path (n_query * seq > 64)


def make_model(n_layers, norm, attn_only, act_fn, init, d_vocab_out=D_VOCAB + 2, n_ctx=N_CTX, seed=0):
    cfg = ModelConfig(n_layers=n_layers, d_model=16, n_heads=2, d_head=8, d_mlp=24, act_fn=act_fn,
                      normalization_type=norm, attn_only=attn_only, init=init, biases="all", seed=seed)
    model = build_model(cfg, D_VOCAB, d_vocab_out, n_ctx)
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for name, t in named_tensors(model).items():
            if is_bias(name) or name == "unembed.bias":  # attention/MLP biases: non-zero, so their paths count
                t.copy_(0.3 * torch.randn(t.shape, generator=g))
            elif ".ln" in name or name.startswith("ln_final"):  # LN gains/shifts away from (1, 0)
                t.copy_((1.0 if name.endswith(".weight") else 0.0) + 0.3 * torch.randn(t.shape, generator=g))
    return cfg, model


def assert_logits_close(fused, hooked):
    assert fused.shape == hooked.shape
    scale = hooked.abs().max().item()
    assert scale > 0.1  # not a degenerate comparison
    err = (fused - hooked).abs().max().item()
    assert err <= 1e-5 * max(scale, 1.0), f"max err {err} at logit scale {scale}"


# (n_ctx of the tokens, answer positions)
POSITIONS = [(3, (2,)), (3, (0, 1, 2)), (3, (1, 2)), (N_CTX, (N_CTX - 1,)), (N_CTX, (5,)),
             (N_CTX, (0, 4, N_CTX - 1)), (N_CTX, tuple(range(N_CTX)))]
GRID = list(itertools.product([1, 2], [None, "LN"], [False, True], ["relu", "gelu"], ["tl", "paper"]))


@pytest.mark.parametrize(("n_layers", "norm", "attn_only", "act_fn", "init"), GRID)
def test_fused_matches_hooked_forward(n_layers, norm, attn_only, act_fn, init):
    cfg, model = make_model(n_layers, norm, attn_only, act_fn, init)
    params = named_tensors(model)
    with torch.no_grad():
        for batch in (3 * D_VOCAB, D_VOCAB - 3):  # table path, direct path
            for seq, answer_pos in POSITIONS:
                tokens = torch.randint(0, D_VOCAB, (batch, seq))
                fused = fused_logits(params, cfg, tokens, answer_pos)
                hooked = hooked_logits(model, tokens, answer_pos)
                assert fused.shape == (batch, len(answer_pos), D_VOCAB + 2)
                assert_logits_close(fused, hooked)


def test_hooked_logits_reads_answer_positions():
    cfg, model = make_model(1, None, False, "relu", "tl")
    tokens = torch.randint(0, D_VOCAB, (4, 5))
    with torch.no_grad():
        full = model(tokens)
        assert torch.equal(hooked_logits(model, tokens, (3, 1)), full[:, [3, 1]])


def test_fused_sees_a_planted_change():
    """The comparison can fail: perturbing one parameter only on the fused side breaks agreement."""
    cfg, model = make_model(2, "LN", False, "gelu", "paper")
    params = {n: t.detach().clone() for n, t in named_tensors(model).items()}
    params["blocks.1.mlp.in.bias"] += 1.0
    tokens = torch.randint(0, D_VOCAB, (3 * D_VOCAB, 3))
    with torch.no_grad():
        assert not torch.allclose(fused_logits(params, cfg, tokens, (2,)), hooked_logits(model, tokens, (2,)),
                                  atol=1e-3)


GRAD_GRID = [
    (1, None, False, "relu", "paper"),
    (1, "LN", True, "gelu", "tl"),
    (2, "LN", False, "gelu", "paper"),
    (2, None, False, "relu", "tl"),
    (2, "LN", True, "relu", "paper"),
]


@pytest.mark.parametrize(("n_layers", "norm", "attn_only", "act_fn", "init"), GRAD_GRID)
@pytest.mark.parametrize(("batch", "seq", "answer_pos"),
                         [(3 * D_VOCAB, 3, (2,)), (D_VOCAB - 2, 3, (1, 2)), (3 * D_VOCAB, N_CTX, (0, 6, 11)),
                          (D_VOCAB - 2, N_CTX, tuple(range(N_CTX)))])
def test_fused_matches_hooked_gradients(n_layers, norm, attn_only, act_fn, init, batch, seq, answer_pos):
    cfg, model = make_model(n_layers, norm, attn_only, act_fn, init)
    train = trainable_parameters(model)
    assert any(is_bias(n) and ".attn." in n for n in train)  # biases="all": attention biases get gradients
    tokens = torch.randint(0, D_VOCAB, (batch, seq))
    labels = torch.randint(0, D_VOCAB + 2, (batch, len(answer_pos)))
    names = list(train)
    g_fused = torch.autograd.grad(
        answer_loss(fused_logits(named_tensors(model), cfg, tokens, answer_pos), labels), [train[n] for n in names])
    g_hooked = torch.autograd.grad(
        answer_loss(hooked_logits(model, tokens, answer_pos), labels), [train[n] for n in names])
    scale = max(g.abs().max().item() for g in g_hooked)
    assert scale > 1e-3
    for name, gf, gh in zip(names, g_fused, g_hooked):
        assert gf.shape == gh.shape
        if seq > max(answer_pos) + 1 and name == "pos_embed.weight":
            assert torch.all(gh[max(answer_pos) + 1:] == 0)  # causal: later positions get no gradient
        torch.testing.assert_close(gf, gh, rtol=1e-4, atol=1e-5 * scale, msg=lambda m, n=name: f"{n}: {m}")


def test_fused_scored_rows_match_the_hooked_model():
    cfg = ModelConfig(n_layers=2, d_model=16, n_heads=2, d_head=8, d_mlp=1, attn_only=True,
                      normalization_type=None, init="paper", biases="none", seed=0)
    model = build_model(cfg, 11, 11, 12)
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 11, (9, 12), generator=g)
    labels = torch.randint(0, 11, (9, 11), generator=g)
    labels[torch.rand(9, 11, generator=g) < 0.6] = -1
    pos = tuple(range(11))
    pred = fused_scored(named_tensors(model), cfg, tokens, pos, labels)
    want = Scored.from_logits(models.hooked_logits(model, tokens, pos), labels)
    assert torch.equal(pred.rows, want.rows)
    torch.testing.assert_close(pred.logits, want.logits, rtol=1e-5, atol=1e-5)
    assert pred.loss().item() == pytest.approx(want.loss().item(), rel=1e-6)
