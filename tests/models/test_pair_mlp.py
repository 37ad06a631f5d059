"""The pair MLP (`model.arch = "mlp"`): GrokTransfer's weak model and, with `model.n_layers` > 1, their FNN target."""

from __future__ import annotations

import torch

from grokinterp.models import build_model, fused_logits, hooked_logits, named_tensors
from tests.helpers import small_model_config


def mlp_config(**kw):
    return small_model_config(**{"arch": "mlp", "d_model": 3, "d_mlp": 5, "biases": "all", **kw})


def test_hidden_layers_are_named_in_order_and_computed_as_written():
    cfg = mlp_config(n_layers=3, act_fn="relu")
    model = build_model(cfg, 7, 6, 3)
    params = named_tensors(model)
    assert list(params) == ["embed.weight", "mlp.in.weight", "mlp.in.bias", "mlp.hidden.0.weight",
                            "mlp.hidden.0.bias", "mlp.hidden.1.weight", "mlp.hidden.1.bias", "mlp.out.weight",
                            "mlp.out.bias"]
    assert params["mlp.hidden.1.weight"].shape == (5, 5) and params["mlp.out.weight"].shape == (6, 5)
    tokens = torch.tensor([[1, 4, 6], [0, 2, 6], [5, 5, 6]])
    h = torch.cat([params["embed.weight"][tokens[:, 0]], params["embed.weight"][tokens[:, 1]]], dim=-1)
    for name in ("mlp.in", "mlp.hidden.0", "mlp.hidden.1"):
        h = torch.relu(h @ params[f"{name}.weight"].T + params[f"{name}.bias"])
    by_hand = h @ params["mlp.out.weight"].T + params["mlp.out.bias"]
    with torch.no_grad():
        assert torch.allclose(fused_logits(params, cfg, tokens, (2,))[:, 0], by_hand, atol=1e-6)
        assert torch.allclose(hooked_logits(model, tokens, (2,))[:, 0], by_hand, atol=1e-6)


def test_the_activation_is_the_configs_and_one_layer_keeps_its_names():
    relu, gelu = mlp_config(act_fn="relu"), mlp_config(act_fn="gelu")
    a, b = build_model(relu, 7, 6, 3), build_model(gelu, 7, 6, 3)
    assert list(named_tensors(a)) == ["embed.weight", "mlp.in.weight", "mlp.in.bias", "mlp.out.weight", "mlp.out.bias"]
    assert all(torch.equal(x, y) for x, y in zip(named_tensors(a).values(), named_tensors(b).values()))  # same init
    tokens = torch.tensor([[1, 4, 6], [0, 2, 6]])
    with torch.no_grad():
        assert not torch.allclose(hooked_logits(a, tokens, (2,)), hooked_logits(b, tokens, (2,)))
