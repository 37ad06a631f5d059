"""`ToyAdder` (Liu, Kitouni, Nolte, Michaud, Tegmark, Williams 2022, "Towards Understanding Grokking: An
Effective Theory of Representation Learning"): `[x, y, ...]` -> E_x + E_y (addition hard-wired) -> `n_layers`
hidden layers of width `d_mlp` (`act_fn`, tanh in the paper's code) -> logits. Tensors: `embed.weight`
(d_vocab, d_model), `decoder.{i}.weight`/`.bias` (i = 0 .. n_layers, the last is the readout). Hooks:
`hook_embed` (batch, 2, d_model), `hook_sum` (batch, d_model), `hook_post.{i}` (batch, d_mlp).

`model.arch = "toy"`. Init "paper" is PyTorch's default except the embedding, U[-1/2, 1/2] as in Liu et al.'s
code (scale s = 1).
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
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


def toy_logits(params: dict[str, Tensor], cfg: ModelConfig,
               tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch d_vocab_out"]:
    """`ToyAdder` logits from its tensors."""
    emb = params["embed.weight"]
    return mlp_layers(params, "decoder", cfg.n_layers, cfg.act_fn, emb[tokens[:, 0]] + emb[tokens[:, 1]])


def make_toy_adder(cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int) -> torch.nn.Module:
    HookedRootModule, HookPoint = hook_classes()

    class ToyAdder(HookedRootModule):
        __doc__ = __doc__

        def __init__(self):
            super().__init__()
            self.cfg, self.n_ctx = cfg, n_ctx
            self.embed = torch.nn.Embedding(d_vocab, cfg.d_model)
            self.decoder = linears([cfg.d_model] + [cfg.d_mlp] * cfg.n_layers + [d_vocab_out])
            self.hook_embed = HookPoint()
            self.hook_sum = HookPoint()
            self.hook_post = torch.nn.ModuleList(HookPoint() for _ in range(cfg.n_layers))
            self.setup()

        def forward(self, tokens: Tensor) -> Tensor:
            """Logits (batch, pos, d_vocab_out), the same at every position (the model reads x and y only)."""
            e = self.hook_embed(self.embed.weight[tokens[:, :2]])
            h = self.hook_sum(e[:, 0] + e[:, 1])
            params = dict(self.decoder.named_parameters(prefix="decoder"))
            logits = mlp_layers(params, "decoder", cfg.n_layers, cfg.act_fn, h, self.hook_post)
            return logits[:, None, :].expand(tokens.shape[0], tokens.shape[1], logits.shape[-1])

    return ToyAdder()


def build_toy(cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int,
              device: str | torch.device = "cpu") -> torch.nn.Module:
    """A seeded `ToyAdder`."""
    model = build_mlp_stack(make_toy_adder, cfg, d_vocab, d_vocab_out, n_ctx)
    if cfg.init == "paper":
        with torch.no_grad():
            g = torch.Generator().manual_seed(cfg.seed)
            model.embed.weight.copy_(torch.rand(model.embed.weight.shape, generator=g) - 0.5)
    return model.to(device)


def short(m: ModelConfig) -> str:
    return f"toy adder d_model {m.d_model}, {m.n_layers} x {m.d_mlp} hidden"


ARCH = register(Architecture(
    name="toy",
    summary="Liu et al. 2022's toy adder: the two operand embeddings summed -> n_layers hidden layers -> logits",
    build=build_toy,
    logits=at_answers(toy_logits),
    describe=lambda m: stack_describe("toy adder (operand embeddings summed)", m, embedding=True),
    short=short,
    task_kinds=frozenset({"pairs"}),
    check=refuse_dropout,
    act_fns=("relu", "gelu", "tanh"),
))
