"""Omnigrok's QM9 network (grokinterp.models.nnconv): the dense computation equals NNConv written edge by edge
as PyTorch Geometric defines it (x_i' = x_i Root + b + sum over incoming edges of x_j W(e_ji), W(e) the edge
network's output viewed (in, out)); padding atoms and the order of the atoms change nothing; the hooked model
and the fused forward agree; a task that is not molecular graphs is refused in one line."""

from __future__ import annotations

import pytest
import torch

from grokinterp.config import ConfigError, ModelConfig
from grokinterp.graphs import BOND_TYPES, NODE_FEATURES, pack
from grokinterp.models import build_model, fused_logits
from grokinterp.models.nnconv import conv_widths, nnconv_output

CFG = ModelConfig(arch="nnconv", n_layers=2, d_model=8, d_mlp=6, act_fn="relu", init="tl", biases="all", seed=3)


def random_graph(n_atoms: int, n_nodes: int, g: torch.Generator):
    """A random molecule-like graph of n_atoms real atoms, padded to n_nodes: one type bit per atom, random other
    features, random bonds of random types. Returns the row and its edge list [(i, j, type)] both ways."""
    x = torch.zeros(n_nodes, NODE_FEATURES)
    x[torch.arange(n_atoms), torch.randint(0, 5, (n_atoms,), generator=g)] = 1.0
    x[:n_atoms, 5:] = torch.rand(n_atoms, NODE_FEATURES - 5, generator=g)
    adj = torch.zeros(len(BOND_TYPES), n_nodes, n_nodes)
    edges = []
    for i in range(n_atoms):
        for j in range(i + 1, n_atoms):
            if torch.rand(1, generator=g) < 0.4:
                t = int(torch.randint(0, len(BOND_TYPES), (1,), generator=g))
                adj[t, i, j] = adj[t, j, i] = 1.0
                edges += [(i, j, t), (j, i, t)]
    return x, adj, edges


def edge_by_edge(params, x, edges, n_atoms):
    """NNConv x 2, add-pool and the head, one edge at a time (PyTorch Geometric's message and aggregation)."""
    h = x[:n_atoms].double()
    p = {k: v.double() for k, v in params.items()}
    widths = conv_widths(CFG)
    for layer, prefix in enumerate(("conv1", "conv2")):
        d_in, d_out = widths[layer], widths[layer + 1]
        new = h @ p[f"{prefix}.root.weight"].T + p[f"{prefix}.bias"]
        new = new.clone()
        for src, dst, t in edges:  # the message x_src W(e) goes to dst
            e = torch.nn.functional.one_hot(torch.tensor(t), len(BOND_TYPES)).double()
            hidden = torch.relu(p[f"{prefix}.edge.0.weight"] @ e + p[f"{prefix}.edge.0.bias"])
            w = (p[f"{prefix}.edge.2.weight"] @ hidden + p[f"{prefix}.edge.2.bias"]).view(d_in, d_out)
            new[dst] += h[src] @ w
        h = torch.relu(new)
    pooled = h.sum(0)
    z = torch.relu(p["fc.weight"] @ pooled + p["fc.bias"])
    return p["out.weight"] @ z + p["out.bias"]


def params_of(model) -> dict[str, torch.Tensor]:
    return {k: v.detach() for k, v in model.named_parameters()}


def test_the_dense_network_equals_nnconv_edge_by_edge():
    g = torch.Generator().manual_seed(0)
    n_nodes = 9
    model = build_model(CFG, d_vocab=n_nodes * (NODE_FEATURES + 4 * n_nodes), d_vocab_out=1, n_ctx=1)
    params = params_of(model)
    with torch.no_grad():  # larger biases and edge weights than the init, so that every term matters
        for v in params.values():
            v.add_(0.3 * torch.randn(v.shape, generator=g))
    graphs = [random_graph(n, n_nodes, g) for n in (2, 5, 9)]
    rows = torch.stack([pack(x, adj) for x, adj, _ in graphs])
    dense = nnconv_output(params, CFG, rows)
    for k, (x, _, edges) in enumerate(graphs):
        ref = edge_by_edge(params, x, edges, int(x[:, :5].sum()))
        assert torch.allclose(dense[k].double(), ref, rtol=1e-5, atol=1e-5), (k, dense[k], ref)
    assert any(edges for _, _, edges in graphs)


def test_padding_and_atom_order_change_nothing():
    g = torch.Generator().manual_seed(1)
    x, adj, _ = random_graph(6, 6, g)
    model = build_model(CFG, d_vocab=6 * (NODE_FEATURES + 4 * 6), d_vocab_out=1, n_ctx=1)
    params = params_of(model)
    out = nnconv_output(params, CFG, pack(x, adj)[None])
    padded_x = torch.cat([x, torch.zeros(4, NODE_FEATURES)])
    padded_adj = torch.zeros(4, 10, 10)
    padded_adj[:, :6, :6] = adj
    assert torch.allclose(out, nnconv_output(params, CFG, pack(padded_x, padded_adj)[None]), atol=1e-5)
    perm = torch.randperm(6, generator=g)
    permuted = pack(x[perm], adj[:, perm][:, :, perm])[None]
    assert torch.allclose(out, nnconv_output(params, CFG, permuted), atol=1e-5)


def test_the_hooked_model_equals_the_fused_forward_and_caches_its_layers():
    g = torch.Generator().manual_seed(2)
    rows = torch.stack([pack(*random_graph(5, 7, g)[:2]) for _ in range(3)])
    model = build_model(CFG, d_vocab=rows.shape[1], d_vocab_out=1, n_ctx=1)
    out, cache = model.run_with_cache(rows)
    fused = fused_logits(params_of(model), CFG, rows, (0,))
    assert torch.allclose(out[:, 0], fused[:, 0], atol=1e-6)
    assert cache["hook_post.0"].shape == (3, 7, 8) and cache["hook_post.1"].shape == (3, 7, 4)
    assert cache["hook_post.2"].shape == (3, 6)


def test_a_task_of_other_rows_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="reads molecular graphs") as e:
        build_model(CFG, d_vocab=40, d_vocab_out=2, n_ctx=1)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="n_layers must be 2"):
        ModelConfig(arch="nnconv", n_layers=3, d_model=8, d_mlp=6, biases="all").validate()
