"""The forward passes (grokinterp.models.forward): the fused engine against the hooked TL forward (logits,
gradients, and the scored rows of `fused_scored`)."""

from __future__ import annotations

import itertools

import pytest
import torch

from grokinterp import models, scoring
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


def constant_count_labels(batch, n_answer, k, g):
    """Labels where every example scores k of its n_answer positions, at places that differ between examples."""
    labels = torch.randint(0, D_VOCAB, (batch, n_answer), generator=g)
    for b in range(batch):
        labels[b, torch.randperm(n_answer, generator=g)[k:]] = -1
    return labels


@pytest.mark.parametrize(("n_layers", "norm", "attn_only", "batch"),
                         [(1, None, False, 3 * D_VOCAB), (1, "LN", False, 3), (2, None, True, 3 * D_VOCAB),
                          (2, "LN", False, 3)])
def test_scored_positions_per_example_match_the_hooked_model(n_layers, norm, attn_only, batch):
    """Each example scoring 4 of its 11 answer positions (repeat-subseq's shape): `fused_scored` computes the last
    layer at those only (`resid_at`), and its logits and gradients are the hooked model's at the scored entries.
    batch 21 > d_vocab takes the layer-0 tables, batch 3 the plain path."""
    cfg, model = make_model(n_layers, norm, attn_only, "relu", "paper")
    g = torch.Generator().manual_seed(5)
    tokens = torch.randint(0, D_VOCAB, (batch, N_CTX), generator=g)
    pos = tuple(range(1, N_CTX))
    labels = constant_count_labels(batch, len(pos), 4, g)
    assert scoring.scored_index(labels) is not None
    train = trainable_parameters(model)
    names = list(train)
    pred = fused_scored(named_tensors(model), cfg, tokens, pos, labels)
    want = Scored.from_logits(models.hooked_logits(model, tokens, pos), labels)
    assert torch.equal(pred.rows, want.rows) and torch.equal(pred.labels, want.labels)
    assert_logits_close(pred.logits, want.logits)
    g_pred = torch.autograd.grad(pred.loss(), [train[n] for n in names])
    g_want = torch.autograd.grad(want.loss(), [train[n] for n in names])
    scale = max(t.abs().max().item() for t in g_want)
    for name, a, b in zip(names, g_pred, g_want):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5 * scale, msg=lambda m, n=name: f"{n}: {m}")


def test_fused_resid_at_own_positions_is_the_full_residual_there(monkeypatch):
    """`fused_resid(..., index)` returns each example's rows `answer_pos[index[b]]` of the full computation, in
    one piece or in evaluation chunks, and a planted change to the last token leaves rows before it alone."""
    from grokinterp.models import transformer
    from grokinterp.models.transformer import fused_resid
    cfg, model = make_model(2, "LN", False, "gelu", "paper")
    params = named_tensors(model)
    g = torch.Generator().manual_seed(6)
    tokens = torch.randint(0, D_VOCAB, (5, N_CTX), generator=g)
    pos = tuple(range(N_CTX))
    index = torch.stack([torch.randperm(N_CTX - 1, generator=g)[:3].sort().values for _ in range(5)])
    with torch.no_grad():
        full = fused_resid(params, cfg, tokens, pos)
        got = fused_resid(params, cfg, tokens, pos, index)
        torch.testing.assert_close(got, torch.stack([full[b, index[b]] for b in range(5)]), rtol=1e-5, atol=1e-5)
        changed = tokens.clone()
        changed[:, -1] = (changed[:, -1] + 1) % D_VOCAB
        torch.testing.assert_close(fused_resid(params, cfg, changed, pos, index), got, rtol=0, atol=0)
        monkeypatch.setattr(transformer, "EVAL_CHUNK_TOKENS", 2 * N_CTX)  # chunks of 2 examples
        torch.testing.assert_close(fused_resid(params, cfg, tokens, pos, index), got, rtol=1e-6, atol=1e-6)


def test_scored_index_only_for_a_constant_count_below_all():
    labels = torch.tensor([[1, -1, 2, -1], [-1, 3, -1, 4]])
    assert scoring.scored_index(labels).tolist() == [[0, 2], [1, 3]]
    assert scoring.scored_index(torch.tensor([[1, -1, 2, -1], [-1, 3, 5, 4]])) is None  # 2 and 3 scored
    assert scoring.scored_index(torch.tensor([[1, 2], [3, 4]])) is None  # all scored: the plain path
    assert scoring.scored_index(torch.tensor([[-1, -1], [-1, -1]])) is None
