"""The pair MLP (`model.arch = "mlp"`): the weak model of GrokTransfer (Xu et al. 2025, "Let me grok for you:
accelerating grokking via embedding transfer from a weaker model"), their FNN targets, and Chughtai et al.'s MLP.

`[a, b, =]` -> the embeddings of both operands (d_model each) concatenated -> `model.n_layers` hidden layers of
d_mlp (`model.act_fn`) -> linear readout. Xu et al.'s "two-layer FNN" weak model is n_layers 1 (d_model 4,
d_mlp 16), their "three-layer FNN" target n_layers 2 (d_model 128, d_mlp 512, no biases). Its embedding is what
GrokTransfer transfers (`grokinterp.train.accel`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from grokinterp.models.config import ModelConfig, refuse_dropout
from grokinterp.models.mlp_stack import activation
from grokinterp.models.params import is_bias, is_trainable, named_tensors
from grokinterp.models.registry import Architecture, register


class PairMLP(torch.nn.Module):
    """The weak model of GrokTransfer (Xu et al. 2025) and of Chughtai et al.'s MLP: embed both operands of
    `[a, b, =]` (d_model each), concatenate, `n_layers` hidden layers of d_mlp, linear readout.

    Tensor names: `embed.weight` (d_vocab, d_model), `mlp.in.weight` (d_mlp, 2 d_model), `mlp.in.bias`, with
    n_layers > 1 `mlp.hidden.{i}.weight` (d_mlp, d_mlp) and `.bias` for i < n_layers - 1, then
    `mlp.out.weight` (d_vocab_out, d_mlp), `mlp.out.bias`. `forward(tokens)` returns the logits at every
    position (the same at each: the model reads only the two operands), so it fits `hooked_logits`.
    """

    def __init__(self, cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int):
        super().__init__()
        self.cfg = cfg
        self.n_ctx = n_ctx
        self.embed = torch.nn.Embedding(d_vocab, cfg.d_model)
        layers: dict[str, torch.nn.Module] = {"in": torch.nn.Linear(2 * cfg.d_model, cfg.d_mlp)}
        if cfg.n_layers > 1:
            layers["hidden"] = torch.nn.ModuleList(torch.nn.Linear(cfg.d_mlp, cfg.d_mlp)
                                                   for _ in range(cfg.n_layers - 1))
        layers["out"] = torch.nn.Linear(cfg.d_mlp, d_vocab_out)
        self.mlp = torch.nn.ModuleDict(layers)

    def forward(self, tokens: Tensor) -> Tensor:
        logits = pair_mlp_logits(dict(self.state_dict(keep_vars=True)), tokens, self.cfg)
        return logits[:, None, :].expand(tokens.shape[0], tokens.shape[1], logits.shape[-1])


def pair_mlp_logits(params: dict[str, Tensor], tokens: Tensor, cfg: ModelConfig) -> Tensor:
    """`PairMLP` logits (batch, d_vocab_out) from its tensors."""
    linear = torch.nn.functional.linear
    emb = params["embed.weight"]
    h = torch.cat([emb[tokens[:, 0]], emb[tokens[:, 1]]], dim=-1)
    h = activation(cfg.act_fn, linear(h, params["mlp.in.weight"], params["mlp.in.bias"]))
    for i in range(cfg.n_layers - 1):
        h = activation(cfg.act_fn, linear(h, params[f"mlp.hidden.{i}.weight"], params[f"mlp.hidden.{i}.bias"]))
    return linear(h, params["mlp.out.weight"], params["mlp.out.bias"])


def build_pair_mlp(cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int,
                   device: str | torch.device = "cpu") -> PairMLP:
    """A seeded `PairMLP`: "tl" init is PyTorch's defaults; "paper" randn / sqrt(fan_in), embeddings
    randn / sqrt(d_model), biases 0."""
    torch.manual_seed(cfg.seed)  # "tl" init: PyTorch's defaults, seeded
    model = PairMLP(cfg, d_vocab, d_vocab_out, n_ctx)
    params = named_tensors(model)
    with torch.no_grad():
        if cfg.init == "paper":  # randn / sqrt(fan_in), embeddings randn / sqrt(d_model), biases 0
            g = torch.Generator().manual_seed(cfg.seed)
            for name, t in params.items():
                fan_in = cfg.d_model if name == "embed.weight" else t.shape[-1]
                t.copy_(torch.zeros_like(t) if is_bias(name) else torch.randn(t.shape, generator=g) / math.sqrt(fan_in))
        for name, t in params.items():
            if not is_trainable(name, cfg.biases):
                t.zero_()
            t.requires_grad_(is_trainable(name, cfg.biases))
    return model.to(device)


def pair_mlp_forward(params: dict[str, Tensor], cfg: ModelConfig, tokens: Tensor,
                     answer_pos: tuple[int, ...]) -> Tensor:
    """The fused forward: `pair_mlp_logits` at every answer position (the model reads only the operands)."""
    logits = pair_mlp_logits(params, tokens, cfg)
    return logits[:, None, :].expand(logits.shape[0], len(answer_pos), logits.shape[-1])


def describe(m: ModelConfig) -> str:
    return (f"pair MLP (operand embeddings concatenated): d_model {m.d_model}, {m.n_layers} hidden layer(s) of "
            f"{m.d_mlp}, {m.act_fn}, init {m.init}, biases {m.biases}")


def short(m: ModelConfig) -> str:
    return f"pair MLP d_model {m.d_model} d_mlp {m.d_mlp}" + (f" x {m.n_layers}" if m.n_layers > 1 else "")


ARCH = register(Architecture(
    name="mlp",
    summary="a pair MLP: the two operand embeddings concatenated -> ReLU -> logits (GrokTransfer's weak model)",
    build=build_pair_mlp,
    logits=pair_mlp_forward,
    describe=describe,
    short=short,
    task_kinds=frozenset({"pairs"}),
    check=refuse_dropout,
    embedding_title="The weak model's embedding",
    embedding_note="A pair MLP's operand embedding (GrokTransfer transfers it into a transformer).",
))
