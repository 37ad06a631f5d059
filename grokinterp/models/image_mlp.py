"""`ImageMLP` (Liu, Michaud, Tegmark 2023, "Omnigrok", the MNIST model: 784-200-200-10 ReLU): pixels ->
`n_layers` hidden layers of width `d_mlp` -> one logit per class (10 for images). Tensors
`layers.{i}.weight`/`.bias`; hooks `hook_post.{i}`.

`model.arch = "image-mlp"`: it reads tasks of float vectors (kind "vectors"), and only those.
"""

from __future__ import annotations

from functools import partial

import torch
from jaxtyping import Float
from torch import Tensor

from grokinterp.models.config import ModelConfig, refuse_dropout
from grokinterp.models.mlp_stack import (
    at_answers,
    build_mlp_stack,
    hook_classes,
    linears,
    mlp_layers,
    stack_describe,
)
from grokinterp.models.registry import Architecture, register


def image_mlp_logits(params: dict[str, Tensor], cfg: ModelConfig,
                     pixels: Float[Tensor, "batch n_pixels"]) -> Float[Tensor, "batch n_classes"]:
    """`ImageMLP` logits from its tensors."""
    return mlp_layers(params, "layers", cfg.n_layers, cfg.act_fn, pixels.to(params["layers.0.weight"].dtype))


def make_image_mlp(cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int) -> torch.nn.Module:
    HookedRootModule, HookPoint = hook_classes()

    class ImageMLP(HookedRootModule):
        def __init__(self):
            super().__init__()
            self.cfg, self.n_ctx = cfg, n_ctx
            self.layers = linears([d_vocab] + [cfg.d_mlp] * cfg.n_layers + [d_vocab_out])
            self.hook_post = torch.nn.ModuleList(HookPoint() for _ in range(cfg.n_layers))
            self.setup()

        def forward(self, pixels: Tensor) -> Tensor:
            """Logits (batch, 1, n_classes)."""
            params = dict(self.layers.named_parameters(prefix="layers"))
            x = pixels.to(self.layers[0].weight.dtype)
            return mlp_layers(params, "layers", cfg.n_layers, cfg.act_fn, x, self.hook_post)[:, None, :]

    return ImageMLP()


def readout_not_muon(params: dict[str, Tensor]) -> list[str]:
    """Every 2-D tensor but the readout (the last layer), which stays on AdamW."""
    return [n for n, p in params.items() if p.ndim == 2 and n != f"layers.{last_layer(params)}.weight"]


def last_layer(params: dict[str, Tensor]) -> int:
    return max(int(n.split(".")[1]) for n in params if n.startswith("layers.") and n.endswith(".weight"))


ARCH = register(Architecture(
    name="image-mlp",
    summary="an MLP on float feature rows (Omnigrok's MNIST MLP: n_layers 2, d_mlp 200)",
    build=partial(build_mlp_stack, make_image_mlp),
    logits=at_answers(image_mlp_logits),
    describe=lambda m: stack_describe("image MLP", m, embedding=False),
    short=lambda m: f"MLP {m.n_layers} x {m.d_mlp} hidden",
    task_kinds=frozenset({"vectors"}),
    muon_names=readout_not_muon,
    check=refuse_dropout,
    embedding="layers.0.weight",  # GrokTransfer's MLP embedding: the first layer, one row per input feature
    embedding_transposed=True,
    act_fns=("relu", "gelu", "tanh"),
))
