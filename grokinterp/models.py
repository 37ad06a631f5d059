"""Hooked transformers built from scratch with TransformerLens 4.

`build_model` boots a TL-native model (`TransformerBridge.boot_native`) and switches on compatibility mode,
which gives the HookedTransformer interface: `W_E`, `W_U`, `blocks[0].attn.W_Q`, `run_with_cache`, and the
standard hook names (`blocks.0.mlp.hook_post`, `blocks.0.attn.hook_pattern`, ...).

Parameters are addressed by the bridge's `state_dict()` names (`embed.weight` (d_vocab, d_model),
`blocks.0.attn.q.weight` (n_heads*d_head, d_model), `blocks.0.mlp.in.weight` (d_mlp, d_model),
`unembed.weight` (d_vocab_out, d_model), ...): these are the keys of every checkpoint, and the fused engine
(`grokinterp.engine`) computes on exactly these tensors.

Inits:
- "paper" (Nanda et al. 2023, `transformers.py`): every weight N(0, 1/d_model) except the unembedding,
  N(0, 1/d_vocab_out); biases 0.
- "tl": TransformerLens's default (gpt2 scheme, std 0.8/sqrt(d_model), output projections scaled by
  1/sqrt(2 n_layers)).

The native model always has attention and MLP biases; `biases` chooses which of them train ("mlp": only
`b_in`/`b_out`, as in the paper, where the attention has no biases at all; "none"; "all"). Frozen biases
stay exactly 0, which is the same function as having none.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor

from grokinterp.config import ModelConfig


def _import_tl():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import transformer_lens.model_bridge.sources.native  # noqa: F401  (attaches boot_native)
        from transformer_lens.config import TransformerBridgeConfig
        from transformer_lens.model_bridge import TransformerBridge
    return TransformerBridge, TransformerBridgeConfig


def bridge_config(cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int):
    """The `TransformerBridgeConfig` of a model config on a task with these vocabulary sizes."""
    _, TransformerBridgeConfig = _import_tl()
    return TransformerBridgeConfig(
        n_layers=cfg.n_layers,
        d_model=cfg.d_model,
        n_heads=cfg.n_heads,
        d_head=cfg.d_head,
        d_mlp=cfg.d_mlp,
        act_fn=cfg.act_fn,
        normalization_type=cfg.normalization_type,
        attn_only=cfg.attn_only,
        d_vocab=d_vocab,
        d_vocab_out=d_vocab_out,
        n_ctx=n_ctx,
        seed=cfg.seed,
        init_weights=True,
    )


def named_tensors(model: torch.nn.Module) -> dict[str, Tensor]:
    """Checkpoint name -> the live tensor (Parameters share storage with the model; buffers included)."""
    return dict(model.state_dict(keep_vars=True))


def is_bias(name: str) -> bool:
    return name.endswith(".bias") and ".ln" not in name and not name.startswith("ln_final")


def is_trainable(name: str, biases: str) -> bool:
    if not is_bias(name):
        return True
    if biases == "all":
        return True
    if biases == "mlp":
        return ".mlp." in name
    return False


@torch.no_grad()
def paper_init_(params: dict[str, Tensor], cfg: ModelConfig, d_vocab_out: int) -> None:
    """Nanda et al.'s init: randn / sqrt(d_model) for every weight, randn / sqrt(d_vocab) for W_U, biases 0."""
    g = torch.Generator().manual_seed(cfg.seed)
    for name, t in params.items():
        if not isinstance(t, torch.nn.Parameter):
            continue
        if ".ln" in name or name.startswith("ln_final"):
            t.fill_(1.0 if name.endswith(".weight") else 0.0)
        elif is_bias(name):
            t.zero_()
        else:
            scale = d_vocab_out if name == "unembed.weight" else cfg.d_model
            t.copy_(torch.randn(t.shape, generator=g) / math.sqrt(scale))


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


def build_model(
    cfg: ModelConfig,
    d_vocab: int,
    d_vocab_out: int,
    n_ctx: int,
    device: str | torch.device = "cpu",
):
    """A hooked TL-native transformer (a `TransformerBridge` in compatibility mode), a `PairMLP` for
    `arch = "mlp"`, a hooked MLP of `grokinterp.mlps` for "toy", "image-mlp" and "onehot-mlp", or Power et al.'s
    transformer
    (`grokinterp.power`) for "power", initialised by `cfg`."""
    if cfg.arch == "mlp":
        return _build_mlp(cfg, d_vocab, d_vocab_out, n_ctx, device)
    if cfg.arch in ("toy", "image-mlp", "onehot-mlp"):
        from grokinterp.mlps import build_mlp_model

        return build_mlp_model(cfg, d_vocab, d_vocab_out, n_ctx, device)
    if cfg.arch == "power":
        from grokinterp.power import build_power_model

        return build_power_model(cfg, d_vocab, d_vocab_out, n_ctx, device)
    TransformerBridge, _ = _import_tl()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = TransformerBridge.boot_native(bridge_config(cfg, d_vocab, d_vocab_out, n_ctx))
        model.enable_compatibility_mode()
    params = named_tensors(model)
    if cfg.init == "paper":
        paper_init_(params, cfg, d_vocab_out)
    with torch.no_grad():
        for name, t in params.items():
            if isinstance(t, torch.nn.Parameter):
                if not is_trainable(name, cfg.biases):
                    t.zero_()
                t.requires_grad_(is_trainable(name, cfg.biases))
    if torch.device(device) != torch.device("cpu"):  # boot_native builds on the CPU; .to() prints a line
        model = model.to(device)
    return model


def _build_mlp(cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int, device) -> PairMLP:
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


BUFFERS = frozenset({"unembed.bias"})  # checkpoint tensors that are buffers, not parameters


def weight_sq(tensors: dict[str, Tensor]) -> float:
    """Total sum of squared parameters (Nanda et al.'s measure), from live tensors or a checkpoint."""
    return float(sum(t.detach().double().pow(2).sum() for name, t in tensors.items() if name not in BUFFERS))


def trainable_parameters(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    """Checkpoint name -> Parameter, for the parameters that train (in a fixed order)."""
    return {n: t for n, t in named_tensors(model).items() if isinstance(t, torch.nn.Parameter) and t.requires_grad}


@torch.no_grad()
def load_tensors_(model: torch.nn.Module, tensors: dict[str, Tensor]) -> None:
    """Copy checkpoint tensors into the model, refusing missing or unexpected names and shape mismatches.

    Copies by name into the live tensors rather than trusting `load_state_dict(strict=True)`: TL issue
    #1587 was a bridge round trip that silently loaded nothing.
    """
    live = named_tensors(model)
    missing = sorted(set(live) - set(tensors))
    unexpected = sorted(set(tensors) - set(live))
    if missing or unexpected:
        raise ValueError(f"checkpoint does not fit the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, t in live.items():  # check every shape before copying anything
        if tensors[name].shape != t.shape:
            raise ValueError(f"checkpoint tensor {name} has shape {tuple(tensors[name].shape)}, "
                             f"model expects {tuple(t.shape)}")
    for name, t in live.items():
        t.copy_(tensors[name].to(device=t.device, dtype=t.dtype))
