"""`model.arch = "nnconv"`: Omnigrok's QM9 network (Liu, Michaud & Tegmark 2023; their
`qm9/grokking/qm9-grokking.ipynb`, `ExampleNet`), two edge-conditioned graph convolutions (Gilmer et al.'s
NNConv, as PyTorch Geometric computes it), a sum over the atoms, and a small MLP head:

    x_i' = relu( x_i Root + bias + sum_{j bonded to i} x_j W(e_ij) ),   W(e) = Linear(relu(Linear(e)))
    conv1: 11 -> d_model, conv2: d_model -> d_model // 2, edge networks 4 -> d_mlp -> in * out
    y = Linear(relu(Linear(sum_i x_i'')))                              (d_model // 2 -> d_mlp -> 1)

Their sizes are d_model 32, d_mlp 32 (conv widths 32 and 16, head width 32). PyTorch Geometric's message is
`x_j @ W(e).view(in, out)` summed over a node's incoming edges ("add" aggregation), plus the root weight
(no bias of its own) and a bias started at zero. Every bond type is one-hot, so W(e) takes one of four values
and the sum over edges is exact as sum_t (A_t X) W_t on the dense adjacency of `grokinterp.graphs`: the same
numbers as the edge-list computation (tested against one written edge by edge).

Initialisation: PyTorch's default `nn.Linear` for the edge networks, the head and the root weights (the root is
PyTorch Geometric's `Linear(..., weight_initializer="uniform")`, U(+-1/sqrt(in)), the same distribution);
the convolutions' biases start at 0. Omnigrok's alpha multiplies every parameter (`accel.init_scale`).
Reads the molecular-graph rows of the `qm9` task (kind "vectors"); hooks `hook_post.{0,1,2}` after each ReLU.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from grokinterp.errors import ConfigError
from grokinterp.graphs import BOND_TYPES, NODE_FEATURES, nodes_of, unpack
from grokinterp.models.config import ModelConfig, refuse_dropout
from grokinterp.models.mlp_stack import at_answers, hook_classes
from grokinterp.models.registry import Architecture, register


def conv_widths(cfg: ModelConfig) -> list[int]:
    """Node widths through the network: input features, conv1, conv2."""
    return [NODE_FEATURES, cfg.d_model, cfg.d_model // 2]


def edge_weights(params: dict[str, Tensor], prefix: str, d_in: int, d_out: int
                 ) -> Float[Tensor, "bond_types d_in d_out"]:
    """W(e) of the conv's edge network for each one-hot bond type."""
    e = torch.eye(len(BOND_TYPES), dtype=params[f"{prefix}.edge.0.weight"].dtype,
                  device=params[f"{prefix}.edge.0.weight"].device)
    h = torch.relu(torch.nn.functional.linear(e, params[f"{prefix}.edge.0.weight"], params[f"{prefix}.edge.0.bias"]))
    w = torch.nn.functional.linear(h, params[f"{prefix}.edge.2.weight"], params[f"{prefix}.edge.2.bias"])
    return w.view(len(BOND_TYPES), d_in, d_out)


def conv(params: dict[str, Tensor], prefix: str, x: Float[Tensor, "batch nodes d_in"],
         adj: Float[Tensor, "batch bond_types nodes nodes"], d_out: int) -> Float[Tensor, "batch nodes d_out"]:
    """One NNConv layer (before its activation): root term, bias, and the messages summed over bonds."""
    w = edge_weights(params, prefix, x.shape[-1], d_out)
    messages = torch.einsum("btij,bjc,tcd->bid", adj, x, w)
    return torch.nn.functional.linear(x, params[f"{prefix}.root.weight"]) + params[f"{prefix}.bias"] + messages


def nnconv_output(params: dict[str, Tensor], cfg: ModelConfig, rows: Float[Tensor, "batch row"], hooks=None
                  ) -> Float[Tensor, "batch 1"]:
    """The network's output from its tensors (a pure function; `hooks`: the hooked model's HookPoints)."""
    x, adj, mask = unpack(rows.to(params["conv1.root.weight"].dtype))
    widths = conv_widths(cfg)
    for i, prefix in enumerate(("conv1", "conv2")):
        x = torch.relu(conv(params, prefix, x, adj, widths[i + 1]))
        if hooks is not None:
            x = hooks[i](x)
    pooled = (x * mask[..., None]).sum(1)  # PyTorch Geometric's global_add_pool over the real atoms
    h = torch.relu(torch.nn.functional.linear(pooled, params["fc.weight"], params["fc.bias"]))
    if hooks is not None:
        h = hooks[2](h)
    return torch.nn.functional.linear(h, params["out.weight"], params["out.bias"])


def make_nnconv(cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int) -> torch.nn.Module:
    HookedRootModule, HookPoint = hook_classes()
    nn = torch.nn
    widths = conv_widths(cfg)

    class NNConvNet(HookedRootModule):
        def __init__(self):
            super().__init__()
            self.cfg, self.n_ctx = cfg, n_ctx
            for name, d_in, d_out in (("conv1", widths[0], widths[1]), ("conv2", widths[1], widths[2])):
                layer = nn.Module()
                layer.edge = nn.Sequential(nn.Linear(len(BOND_TYPES), cfg.d_mlp), nn.ReLU(),
                                           nn.Linear(cfg.d_mlp, d_in * d_out))
                layer.root = nn.Linear(d_in, d_out, bias=False)
                layer.bias = nn.Parameter(torch.zeros(d_out))
                setattr(self, name, layer)
            self.fc = nn.Linear(widths[2], cfg.d_mlp)
            self.out = nn.Linear(cfg.d_mlp, d_vocab_out)
            self.hook_post = nn.ModuleList(HookPoint() for _ in range(3))
            self.setup()

        def forward(self, rows: Tensor) -> Tensor:
            """Outputs (batch, 1, d_vocab_out)."""
            return nnconv_output(dict(self.named_parameters()), cfg, rows, self.hook_post)[:, None, :]

    return NNConvNet()


def build_nnconv(cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int,
                 device: str | torch.device = "cpu") -> torch.nn.Module:
    """The network for rows of `d_vocab` floats (molecular graphs), seeded by `model.seed`."""
    try:
        nodes_of(d_vocab)
    except ValueError as e:
        raise ConfigError(f"model.arch='nnconv' reads molecular graphs (task.family='qm9'): {e}") from None
    torch.manual_seed(cfg.seed)
    return make_nnconv(cfg, d_vocab, d_vocab_out, n_ctx).to(device)


def check(m: ModelConfig) -> None:
    refuse_dropout(m)
    if m.n_layers != 2:
        raise ConfigError(f"model.arch='nnconv' is Omnigrok's QM9 network of two graph convolutions: "
                          f"model.n_layers must be 2, got {m.n_layers}")
    if m.d_model < 2 or m.d_mlp < 1:
        raise ConfigError(f"model.arch='nnconv' needs model.d_model >= 2 and model.d_mlp >= 1, got {m.d_model} "
                          f"and {m.d_mlp}")
    if m.biases != "all":
        raise ConfigError("model.arch='nnconv' trains every bias (model.biases='all')")


ARCH = register(Architecture(
    name="nnconv",
    summary="Omnigrok's QM9 graph network: two NNConv layers, a sum over atoms, an MLP head",
    build=build_nnconv,
    logits=at_answers(nnconv_output),
    describe=lambda m: (f"NNConv graph network: convolutions {NODE_FEATURES} -> {m.d_model} -> {m.d_model // 2}, "
                        f"edge networks of width {m.d_mlp}, sum over atoms, head {m.d_model // 2} -> {m.d_mlp} -> 1, "
                        f"relu, init {m.init}"),
    short=lambda m: f"NNConv graph network {m.d_model}/{m.d_model // 2}, edge and head width {m.d_mlp}",
    task_kinds=frozenset({"vectors"}),
    check=check,
    embedding=None,
    batchable=False,
    act_fns=("relu",),
))
