"""Induction-head scores on hand-wired models whose heads we know, and on trained ones."""

from __future__ import annotations

import pytest
import torch

from grokinterp.analysis import induction
from grokinterp.config import ModelConfig
from grokinterp.models import build_model, named_tensors

V, N_CTX = 40, 24  # vocabulary, context (probe r r with r of 12 tokens)


def _wired(prev_layer0: bool = True, induction_layer1: bool = True, n_layers: int = 2):
    """Attention-only model with one-hot subspaces: tokens [0, V), positions [V, V+N_CTX), 'previous token'
    [V+N_CTX, 2V+N_CTX) and 'output' [2V+N_CTX, 3V+N_CTX). L0H0 attends to the previous position and writes
    that position's token into the previous-token subspace; L1H0 attends where the previous token equals
    the current token and copies the token found there to the output subspace, which W_U reads."""
    tok, pos, prev, out = 0, V, V + N_CTX, 2 * V + N_CTX
    d_model, d_head, n_heads = 3 * V + N_CTX, max(V, N_CTX), 2
    cfg = ModelConfig(n_layers=n_layers, d_model=d_model, n_heads=n_heads, d_head=d_head, d_mlp=1, attn_only=True,
                      normalization_type=None, biases="none")
    model = build_model(cfg, V, V, N_CTX, "cpu")
    p = named_tensors(model)
    c = 100.0
    with torch.no_grad():
        for t in p.values():
            t.zero_()
        p["embed.weight"][torch.arange(V), tok + torch.arange(V)] = 1.0
        p["pos_embed.weight"][torch.arange(N_CTX), pos + torch.arange(N_CTX)] = 1.0
        p["unembed.weight"][torch.arange(V), out + torch.arange(V)] = 1.0
        if prev_layer0:  # head 0 of layer 0: rows 0..d_head-1 of q/k/v, columns 0..d_head-1 of o
            q, k, v, o = (p[f"blocks.0.attn.{n}.weight"] for n in "qkvo")
            q[torch.arange(N_CTX), pos + torch.arange(N_CTX)] = c  # query at i -> e_i
            k[torch.arange(1, N_CTX), pos + torch.arange(N_CTX - 1)] = 1.0  # key at j -> e_{j+1}
            v[torch.arange(V), tok + torch.arange(V)] = 1.0
            o[prev + torch.arange(V), torch.arange(V)] = 1.0
        if induction_layer1 and n_layers > 1:
            q, k, v, o = (p[f"blocks.1.attn.{n}.weight"] for n in "qkvo")
            q[torch.arange(V), tok + torch.arange(V)] = c  # current token
            k[torch.arange(V), prev + torch.arange(V)] = 1.0  # previous token at the key
            v[torch.arange(V), tok + torch.arange(V)] = 1.0
            o[out + torch.arange(V), torch.arange(V)] = 1.0
    return model.eval()


def test_planted_previous_token_and_induction_heads_score_one():
    model = _wired()
    s = induction.head_scores(model, seq_len=12, n_seqs=16)
    assert set(s) == set(induction.SCORES) and all(v.shape == (2, 2) for v in s.values())
    assert s["previous_token"][0, 0] > 0.95
    assert s["induction"][1, 0] > 0.95 and s["prefix_matching"][1, 0] > 0.95
    # every other head is far from those roles (zero weights: uniform attention)
    others = [(0, 1), (1, 1)]
    assert all(s["induction"][h] < 0.2 and s["previous_token"][h] < 0.3 for h in others)
    assert s["induction"][0, 0] < 0.1 and s["previous_token"][1, 0] < 0.1
    cp = induction.copying_scores(model)
    assert cp[1, 0] == pytest.approx(1.0, abs=1e-5) and cp[0, 0] == 0.0 and cp[0, 1] == 0.0
    # and the circuit really predicts the second copy (from its second token: at the first one, position 0,
    # which has no previous token and attends to itself, ties with the true target)
    tokens = induction.repeated_tokens(V, 12, 4, seed=3)
    with torch.no_grad():
        pred = model(tokens).argmax(-1)
    assert bool((pred[:, 13:23] == tokens[:, 14:24]).all())


def test_without_the_previous_token_head_there_is_no_induction():
    s = induction.head_scores(_wired(prev_layer0=False), seq_len=12, n_seqs=16)
    assert s["induction"].max() < 0.3 and s["previous_token"].max() < 0.3
    one_layer = induction.head_scores(_wired(n_layers=1), seq_len=12, n_seqs=16)
    assert one_layer["induction"].shape == (1, 2) and one_layer["induction"].max() < 0.3


def test_scores_from_a_hand_made_pattern():
    L = 4
    tokens = torch.tensor([[5, 6, 7, 8, 5, 6, 7, 8]])
    pattern = torch.zeros(1, 1, 1, 8, 8)
    for q in range(8):
        pattern[0, 0, 0, q, max(q - L + 1, 0) if q >= L else 0] = 1.0  # induction targets in the 2nd copy
    s = induction.pattern_scores(pattern, tokens, L)
    assert s["induction"].item() == 1.0 and s["prefix_matching"].item() == 1.0
    assert s["duplicate_token"].item() == 0.0
    assert s["previous_token"].item() == pytest.approx(1 / 7)  # only q = 1 (-> 0) hits q-1


def test_probe_tokens_and_errors():
    t = induction.repeated_tokens(50, 10, 3, seed=1)
    assert t.shape == (3, 20) and torch.equal(t[:, :10], t[:, 10:])
    assert all(len(set(row[:10].tolist())) == 10 for row in t)
    small = induction.repeated_tokens(4, 10, 2)
    assert int(small.max()) < 4
    with pytest.raises(ValueError, match="seq_len"):
        induction.head_scores(_wired(), seq_len=13)
