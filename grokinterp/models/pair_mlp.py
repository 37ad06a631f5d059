"""The pair MLP (`model.arch = "mlp"`): the weak model of GrokTransfer (Xu et al. 2025, "Let me grok for you:
accelerating grokking via embedding transfer from a weaker model") and Chughtai et al.'s MLP.

`[a, b, =]` -> the embeddings of both operands (d_model each) concatenated -> one ReLU layer of d_mlp ->
linear readout. Its embedding is what GrokTransfer transfers into a transformer (`grokinterp.train.accel`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from grokinterp.models.config import ModelConfig, refuse_dropout
from grokinterp.models.params import is_bias, is_trainable, named_tensors
from grokinterp.models.registry import Architecture, register


class PairMLP(torch.nn.Module):
    """The weak model of GrokTransfer (Xu et al. 2025) and of Chughtai et al.'s MLP: embed both operands of
    `[a, b, =]` (d_model each), concatenate, one ReLU layer of d_mlp, linear readout.

    Tensor names: `embed.weight` (d_vocab, d_model), `mlp.in.weight` (d_mlp, 2 d_model), `mlp.in.bias`,
    `mlp.out.weight` (d_vocab_out, d_mlp), `mlp.out.bias`. `forward(tokens)` returns the logits at every
    position (the same at each: the model reads only the two operands), so it fits `hooked_logits`.
    """

    def __init__(self, cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int):
        super().__init__()
        self.cfg = cfg
        self.n_ctx = n_ctx
        self.embed = torch.nn.Embedding(d_vocab, cfg.d_model)
        self.mlp = torch.nn.ModuleDict({"in": torch.nn.Linear(2 * cfg.d_model, cfg.d_mlp),
                                        "out": torch.nn.Linear(cfg.d_mlp, d_vocab_out)})

    def forward(self, tokens: Tensor) -> Tensor:
        logits = pair_mlp_logits(dict(self.state_dict(keep_vars=True)), tokens)
        return logits[:, None, :].expand(tokens.shape[0], tokens.shape[1], logits.shape[-1])


def pair_mlp_logits(params: dict[str, Tensor], tokens: Tensor) -> Tensor:
    """`PairMLP` logits (batch, d_vocab_out) from its tensors."""
    emb = params["embed.weight"]
    h = torch.cat([emb[tokens[:, 0]], emb[tokens[:, 1]]], dim=-1)
    h = torch.relu(torch.nn.functional.linear(h, params["mlp.in.weight"], params["mlp.in.bias"]))
    return torch.nn.functional.linear(h, params["mlp.out.weight"], params["mlp.out.bias"])


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
    logits = pair_mlp_logits(params, tokens)
    return logits[:, None, :].expand(logits.shape[0], len(answer_pos), logits.shape[-1])


def describe(m: ModelConfig) -> str:
    return (f"pair MLP (operand embeddings concatenated): d_model {m.d_model}, 1 hidden layer of {m.d_mlp}, "
            f"{m.act_fn}, init {m.init}")


def short(m: ModelConfig) -> str:
    return f"pair MLP d_model {m.d_model} d_mlp {m.d_mlp}"


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
