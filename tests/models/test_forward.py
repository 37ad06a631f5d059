"""Tests for grokinterp.engine: the fused engine against the hooked TL forward, the loss and the accuracy."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from grokinterp.config import ModelConfig
from grokinterp.models import build_model, fused_logits, hooked_logits, is_bias, named_tensors, trainable_parameters
from grokinterp.scoring import accuracy, answer_loss

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


def oracle_loss(logits: list, labels: list) -> float:
    total, count = 0.0, 0
    for row_logits, row_labels in zip(logits, labels):
        for z, y in zip(row_logits, row_labels):
            m = max(z)
            lse = m + math.log(sum(math.exp(v - m) for v in z))
            total += lse - z[y]
            count += 1
    return total / count


def test_answer_loss_matches_float64_oracle():
    logits = torch.randn(5, 2, 9) * 3
    labels = torch.randint(0, 9, (5, 2))
    loss = answer_loss(logits, labels)
    assert loss.dtype == torch.float64 and loss.shape == ()
    assert math.isclose(loss.item(), oracle_loss(logits.double().tolist(), labels.tolist()), rel_tol=1e-12)


def test_answer_loss_resolves_tiny_losses():
    # log(1 + 2 e^-20) ~ 4e-9: below float32 resolution of log-probabilities near 0 (float32 gives 0)
    logits = torch.tensor([[[20.0, 0.0, 0.0]], [[0.0, 0.0, 20.0]]])
    labels = torch.tensor([[0], [2]])
    expected = math.log1p(2 * math.exp(-20))
    assert -logits.log_softmax(-1)[0, 0, 0].item() < 0.5 * expected  # float32 cannot resolve it
    assert math.isclose(answer_loss(logits, labels).item(), expected, rel_tol=1e-5)


def test_answer_loss_backprops_to_float32_logits():
    logits = torch.randn(3, 1, 5, requires_grad=True)
    labels = torch.tensor([[0], [4], [2]])
    answer_loss(logits, labels).backward()
    expected = (logits.detach().double().softmax(-1) - torch.nn.functional.one_hot(labels, 5).double()) / 3
    assert logits.grad.dtype == torch.float32
    torch.testing.assert_close(logits.grad.double(), expected, rtol=1e-6, atol=1e-7)


def one_hot_logits(preds: list[list[int]], d: int = 5) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(preds), d).float() * 4.0 - 1.0


def test_accuracy_needs_every_answer_position():
    labels = torch.tensor([[1, 2], [1, 2], [1, 2], [1, 2]])
    preds = [[1, 2], [1, 3], [0, 2], [4, 4]]  # both right, second wrong, first wrong, both wrong
    assert accuracy(one_hot_logits(preds), labels) == 0.25
    assert accuracy(one_hot_logits([[1, 2]] * 4), labels) == 1.0
    assert accuracy(one_hot_logits([[0, 0]] * 4), labels) == 0.0


def test_accuracy_single_position():
    labels = torch.tensor([[0], [1], [2], [3], [4]])
    preds = [[0], [1], [2], [0], [0]]
    assert accuracy(one_hot_logits(preds), labels) == pytest.approx(3 / 5)
