"""`OneHotMLP` (Prieto, Barsbey, Mediano, Birdal 2025, "Grokking at the edge of numerical stability", their
modular-arithmetic MLP, `MLP(input_size=2p, hidden_sizes=[200, 200], bias=False)`): the one-hot codes of the
two operands of `[a, b, =]` concatenated (2 (d_vocab - 1) inputs: '=' has no code) -> `n_layers` hidden
layers -> logits. The same tensors and hooks as `ImageMLP`, plus `hook_input` (batch, 2 (d_vocab - 1)). The
preset's `biases = "none"` keeps the bias tensors frozen at 0, which is their `bias=False`.

`model.arch = "onehot-mlp"`.
"""

from __future__ import annotations

from functools import partial

import torch
from jaxtyping import Float, Int
from torch import Tensor

from grokinterp.models.config import ModelConfig, refuse_dropout
from grokinterp.models.image_mlp import last_layer
from grokinterp.models.mlp_stack import (
    at_answers,
    build_mlp_stack,
    hook_classes,
    linears,
    mlp_layers,
    stack_describe,
)
from grokinterp.models.registry import Architecture, register


def onehot_inputs(tokens: Int[Tensor, "batch pos"], d_vocab: int, dtype: torch.dtype) -> Float[Tensor, "batch n_in"]:
    """The one-hot codes of the operands a = tokens[:, 0], b = tokens[:, 1] over d_vocab - 1 symbols, concatenated."""
    n = d_vocab - 1
    return torch.nn.functional.one_hot(tokens[:, :2], n).to(dtype).reshape(tokens.shape[0], 2 * n)


def onehot_mlp_logits(params: dict[str, Tensor], cfg: ModelConfig,
                      tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch d_vocab_out"]:
    """`OneHotMLP` logits from its tensors. The first layer reads two columns of its weight (W[:, a] + W[:, n + b],
    exactly the one-hot product) instead of multiplying by the one-hot codes."""
    w, bias = params["layers.0.weight"], params.get("layers.0.bias")
    table = w.T
    lookup = torch.nn.functional.embedding
    h = lookup(tokens[:, 0], table) + lookup(w.shape[1] // 2 + tokens[:, 1], table)
    return mlp_layers(params, "layers", cfg.n_layers, cfg.act_fn, h if bias is None else h + bias, start=1)


def make_onehot_mlp(cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int) -> torch.nn.Module:
    HookedRootModule, HookPoint = hook_classes()

    class OneHotMLP(HookedRootModule):
        def __init__(self):
            super().__init__()
            self.cfg, self.n_ctx = cfg, n_ctx
            self.layers = linears([2 * (d_vocab - 1)] + [cfg.d_mlp] * cfg.n_layers + [d_vocab_out])
            self.hook_input = HookPoint()
            self.hook_post = torch.nn.ModuleList(HookPoint() for _ in range(cfg.n_layers))
            self.setup()

        def forward(self, tokens: Tensor) -> Tensor:
            """Logits (batch, pos, d_vocab_out), the same at every position (the model reads a and b only)."""
            params = dict(self.layers.named_parameters(prefix="layers"))
            x = self.hook_input(onehot_inputs(tokens, d_vocab, self.layers[0].weight.dtype))
            logits = mlp_layers(params, "layers", cfg.n_layers, cfg.act_fn, x, self.hook_post)
            return logits[:, None, :].expand(tokens.shape[0], tokens.shape[1], logits.shape[-1])

    return OneHotMLP()


def hidden_only(params: dict[str, Tensor]) -> list[str]:
    """Every 2-D tensor but the readout (the last layer) and the first layer, a lookup table of the one-hot
    codes: those stay on AdamW."""
    skip = {"layers.0.weight", f"layers.{last_layer(params)}.weight"}
    return [n for n, p in params.items() if p.ndim == 2 and n not in skip]


ARCH = register(Architecture(
    name="onehot-mlp",
    summary="an MLP on the one-hot codes of both operands concatenated (Prieto et al. 2025's modular MLP)",
    build=partial(build_mlp_stack, make_onehot_mlp),
    logits=at_answers(onehot_mlp_logits),
    describe=lambda m: stack_describe("one-hot MLP (operand codes concatenated)", m, embedding=False),
    short=lambda m: f"one-hot MLP {m.n_layers} x {m.d_mlp} hidden",
    task_kinds=frozenset({"pairs"}),
    muon_names=hidden_only,
    check=refuse_dropout,
    embedding=None,
    act_fns=("relu", "gelu", "tanh"),
))
