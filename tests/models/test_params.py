"""Model tensors (grokinterp.models.params): loading tensors into a model, and refusing a mismatch."""

from __future__ import annotations

import pytest
import torch

from grokinterp.config import ModelConfig
from grokinterp.models import build_model, load_tensors_, named_tensors, trainable_parameters
from tests.helpers import small_model_config


def test_load_tensors_round_trip():
    cfg_a = small_model_config(n_layers=2, normalization_type="LN", seed=1)
    cfg_b = small_model_config(n_layers=2, normalization_type="LN", seed=2)
    a, b = build_model(cfg_a, 7, 7, 3), build_model(cfg_b, 7, 7, 3)
    tokens = torch.randint(0, 7, (6, 3))
    with torch.no_grad():
        la, lb = a(tokens), b(tokens)
    assert not torch.allclose(la, lb)
    before = {n: t.detach().clone() for n, t in named_tensors(b).items()}
    src = {n: t.detach().clone() for n, t in named_tensors(a).items()}
    load_tensors_(b, src)
    after = named_tensors(b)
    assert any(not torch.equal(before[n], after[n]) for n in before)  # something was actually loaded
    for name in src:
        assert torch.equal(after[name], src[name]), name
    with torch.no_grad():
        assert torch.equal(b(tokens), la)
    # loading keeps the frozen/trainable split
    assert set(trainable_parameters(b)) == set(trainable_parameters(a))


def test_load_tensors_refuses_mismatch():
    model = build_model(small_model_config(), 7, 7, 3)
    good = {n: t.detach().clone() for n, t in named_tensors(model).items()}

    missing = dict(good)
    del missing["blocks.0.mlp.in.weight"]
    with pytest.raises(ValueError, match="blocks.0.mlp.in.weight"):
        load_tensors_(model, missing)

    extra = dict(good, **{"blocks.1.mlp.in.weight": torch.zeros(32, 16)})
    with pytest.raises(ValueError, match="blocks.1.mlp.in.weight"):
        load_tensors_(model, extra)

    wrong = dict(good)
    wrong["embed.weight"] = torch.zeros(8, 16)
    with pytest.raises(ValueError, match="embed.weight"):
        load_tensors_(model, wrong)

    other = named_tensors(build_model(small_model_config(d_model=24, d_head=12), 7, 7, 3))
    with pytest.raises(ValueError):
        load_tensors_(model, other)


def test_failed_load_leaves_the_model_untouched():
    a = build_model(ModelConfig(d_model=16, n_heads=2, d_head=8, d_mlp=24, seed=1), 7, 8, 3)
    b = build_model(ModelConfig(d_model=16, n_heads=2, d_head=8, d_mlp=24, seed=2), 7, 7, 3)
    before = {k: v.clone() for k, v in named_tensors(b).items()}
    with pytest.raises(ValueError, match="unembed.weight"):
        load_tensors_(b, named_tensors(a))
    assert all(torch.equal(before[k], v) for k, v in named_tensors(b).items())
