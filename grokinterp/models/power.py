"""Power et al. 2022's transformer ("Grokking: generalization beyond overfitting on small algorithmic
datasets"; code: openai/grok, `grok/transformer.py`) as a TransformerLens `HookedRootModule`.

A decoder-only transformer with a causal mask and **post-LayerNorm** blocks (`model.arch = "power"`):

    x_0        = W_E[token] + PE[pos]                        (hook_embed, hook_pos_embed; PE fixed)
    resid_mid  = LN1(resid_pre + Attn(resid_pre))            (blocks.l.hook_resid_mid)
    resid_post = LN2(resid_mid + Dropout(FFN(resid_mid)))    (blocks.l.hook_resid_post)
    logits     = W_U resid_post                              (no final LayerNorm: the blocks end in one)

- PE[pos, i] = sin(pos / 10000^(i / d_model)) for even i, cos(pos / 10000^((i - 1) / d_model)) for odd i.
- Attn: `n_heads` heads of `d_head`, softmax(q k^T / sqrt(d_head)) v, then W_O; no biases anywhere.
- FFN(x) = W_out ReLU(W_in x), d_mlp wide (4 d_model in their code), no biases.
- The output layer is untied and has no bias.
- Dropout (p = `model.dropout`) acts on the FFN output only, as in their code (the attention dropout is
  commented out there), and only in training forwards.
- Weight noise (their `--weight_noise`, `train.weight_noise` here) is added to every weight in the training
  forward by the trainer (`grokinterp.train`), not by this module.

Tensor names follow the TL-native models (`grokinterp.models.transformer`): `embed.weight` (d_vocab, d_model),
`blocks.l.attn.{q,k,v}.weight` (n_heads d_head, d_model), `blocks.l.attn.o.weight` (d_model, n_heads d_head),
`blocks.l.ln1.{weight,bias}`, `blocks.l.mlp.in.weight` (d_mlp, d_model), `blocks.l.mlp.out.weight`
(d_model, d_mlp), `blocks.l.ln2.{weight,bias}`, `unembed.weight` (d_vocab_out, d_model). The sinusoid is a
function of the shape, not a checkpoint tensor (`W_pos` on the module). Hook names are TL's
(`blocks.0.attn.hook_pattern`, `blocks.1.mlp.hook_post`, ...), plus `blocks.l.ln1.hook_normalized`.

Init "paper" is their code's, i.e. PyTorch's defaults: `nn.Linear` weights U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
`nn.Embedding` N(0, 1), LayerNorm 1 and 0; seeded by `model.seed`.

`power_resid` is the forward as a pure function of the tensors: the module and the fused engine both call
it, the engine asking only for the answer positions of the last layer.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from grokinterp.errors import ConfigError
from grokinterp.models.config import ModelConfig
from grokinterp.models.params import position_index
from grokinterp.models.registry import Architecture, register

Hook = Callable[[str, Tensor], Tensor]


def sinusoid(n_ctx: int, d_model: int) -> Float[Tensor, "n_ctx d_model"]:
    """Power et al.'s fixed positional encoding (see the module docstring), in float64 then float32."""
    pos = torch.arange(n_ctx, dtype=torch.float64)[:, None]
    i = torch.arange(d_model)
    angle = pos / 10000 ** ((i - i % 2).to(torch.float64) / d_model)
    return torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle)).to(torch.float32)


def _no_hook(name: str, x: Tensor) -> Tensor:
    return x


def _ln(params: dict[str, Tensor], name: str, x: Tensor) -> Tensor:
    return F.layer_norm(x, x.shape[-1:], params[f"{name}.weight"], params[f"{name}.bias"], 1e-5)


def power_resid(
    params: dict[str, Tensor],
    cfg: ModelConfig,
    tokens: Int[Tensor, "batch pos"],
    answer_pos: tuple[int, ...] | None = None,
    *,
    hook: Hook = _no_hook,
    dropout_generator: torch.Generator | None = None,
) -> Float[Tensor, "batch n_out d_model"]:
    """The last block's output (the unembedding's input) at `answer_pos`, or at every position for None.

    `dropout_generator`: apply the FFN dropout (p = `cfg.dropout`) with masks drawn from it (a training
    forward); None: no dropout (evaluation)."""
    n_heads, d_head = cfg.n_heads, cfg.d_head
    if answer_pos is not None:
        tokens = tokens[:, : max(answer_pos) + 1]  # causal: later positions cannot matter
    batch, seq = tokens.shape
    x = hook("hook_embed", F.embedding(tokens, params["embed.weight"]))
    x = x + hook("hook_pos_embed", sinusoid(seq, cfg.d_model).to(x.device, x.dtype)[None])
    all_pos = torch.arange(seq, device=tokens.device)
    for layer in range(cfg.n_layers):
        pre = f"blocks.{layer}"
        x = hook(f"{pre}.hook_resid_pre", x)
        at = position_index(answer_pos) if answer_pos is not None and layer == cfg.n_layers - 1 else None
        q_pos = all_pos if at is None else all_pos[at]
        x_q = x if at is None else x[:, at]
        q = hook(f"{pre}.attn.hook_q", F.linear(x_q, params[f"{pre}.attn.q.weight"]).view(batch, -1, n_heads, d_head))
        k = hook(f"{pre}.attn.hook_k", F.linear(x, params[f"{pre}.attn.k.weight"]).view(batch, seq, n_heads, d_head))
        v = hook(f"{pre}.attn.hook_v", F.linear(x, params[f"{pre}.attn.v.weight"]).view(batch, seq, n_heads, d_head))
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d_head)
        scores = scores.masked_fill(all_pos[None, :] > q_pos[:, None], float("-inf"))
        pattern = hook(f"{pre}.attn.hook_pattern", hook(f"{pre}.attn.hook_attn_scores", scores).softmax(dim=-1))
        z = hook(f"{pre}.attn.hook_z", torch.einsum("bhqk,bkhd->bqhd", pattern, v))
        attn_out = hook(f"{pre}.hook_attn_out",
                        F.linear(z.reshape(batch, -1, n_heads * d_head), params[f"{pre}.attn.o.weight"]))
        x = hook(f"{pre}.hook_resid_mid", hook(f"{pre}.ln1.hook_normalized", _ln(params, f"{pre}.ln1", x_q + attn_out)))
        post = hook(f"{pre}.mlp.hook_post",
                    F.relu(hook(f"{pre}.mlp.hook_pre", F.linear(x, params[f"{pre}.mlp.in.weight"]))))
        mlp_out = F.linear(post, params[f"{pre}.mlp.out.weight"])
        if dropout_generator is not None and cfg.dropout > 0:
            keep = torch.rand(mlp_out.shape, generator=dropout_generator, device=mlp_out.device) >= cfg.dropout
            mlp_out = mlp_out * keep / (1 - cfg.dropout)  # nn.Dropout's inverted scaling
        mlp_out = hook(f"{pre}.hook_mlp_out", mlp_out)
        x = hook(f"{pre}.hook_resid_post", hook(f"{pre}.ln2.hook_normalized", _ln(params, f"{pre}.ln2", x + mlp_out)))
    return x


def power_logits(params: dict[str, Tensor], cfg: ModelConfig, tokens: Int[Tensor, "batch pos"],
                 answer_pos: tuple[int, ...] | None = None, **kw) -> Float[Tensor, "batch n_out d_vocab_out"]:
    """Logits at `answer_pos` (every position for None); keywords as `power_resid`."""
    return F.linear(power_resid(params, cfg, tokens, answer_pos, **kw), params["unembed.weight"])


def tensor_shapes(cfg: ModelConfig, d_vocab: int, d_vocab_out: int) -> dict[str, tuple[int, ...]]:
    """Every checkpoint tensor of the model and its shape, in a fixed order."""
    hd = cfg.n_heads * cfg.d_head
    shapes: dict[str, tuple[int, ...]] = {"embed.weight": (d_vocab, cfg.d_model)}
    for layer in range(cfg.n_layers):
        pre = f"blocks.{layer}"
        shapes.update({f"{pre}.attn.q.weight": (hd, cfg.d_model), f"{pre}.attn.k.weight": (hd, cfg.d_model),
                       f"{pre}.attn.v.weight": (hd, cfg.d_model), f"{pre}.attn.o.weight": (cfg.d_model, hd),
                       f"{pre}.ln1.weight": (cfg.d_model,), f"{pre}.ln1.bias": (cfg.d_model,),
                       f"{pre}.mlp.in.weight": (cfg.d_mlp, cfg.d_model),
                       f"{pre}.mlp.out.weight": (cfg.d_model, cfg.d_mlp),
                       f"{pre}.ln2.weight": (cfg.d_model,), f"{pre}.ln2.bias": (cfg.d_model,)})
    shapes["unembed.weight"] = (d_vocab_out, cfg.d_model)
    return shapes


@torch.no_grad()
def paper_init(cfg: ModelConfig, d_vocab: int, d_vocab_out: int) -> dict[str, Tensor]:
    """Their code's init (PyTorch defaults), seeded by `cfg.seed`."""
    g = torch.Generator().manual_seed(cfg.seed)
    out = {}
    for name, shape in tensor_shapes(cfg, d_vocab, d_vocab_out).items():
        if name == "embed.weight":
            out[name] = torch.randn(shape, generator=g)
        elif ".ln" in name:
            out[name] = torch.ones(shape) if name.endswith("weight") else torch.zeros(shape)
        else:
            bound = 1 / math.sqrt(shape[1])
            out[name] = (torch.rand(shape, generator=g) * 2 - 1) * bound
    return out


def build_power_model(cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int,
                      device: str | torch.device = "cpu") -> torch.nn.Module:
    """A hooked `PowerTransformer` with `paper_init` weights."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from transformer_lens import HookedRootModule
        from transformer_lens.hook_points import HookPoint

    def hooks(*names: str) -> torch.nn.Module:
        m = torch.nn.Module()
        for n in names:
            setattr(m, n, HookPoint())
        return m

    class PowerTransformer(HookedRootModule):
        """Power et al.'s transformer (`grokinterp.models.power`); `forward(tokens)` gives logits at every position."""

        def __init__(self) -> None:
            super().__init__()
            self.cfg = cfg
            self.n_ctx = n_ctx
            init = paper_init(cfg, d_vocab, d_vocab_out)
            self.hook_embed, self.hook_pos_embed = HookPoint(), HookPoint()
            self.register_buffer("W_pos", sinusoid(n_ctx, cfg.d_model), persistent=False)
            self.blocks = torch.nn.ModuleList()
            for _ in range(cfg.n_layers):
                block = hooks("hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post")
                block.attn = hooks("hook_q", "hook_k", "hook_v", "hook_attn_scores", "hook_pattern", "hook_z")
                block.mlp = hooks("hook_pre", "hook_post")
                block.ln1, block.ln2 = hooks("hook_normalized"), hooks("hook_normalized")
                self.blocks.append(block)
            for name, t in init.items():  # empty modules hold the tensors under their checkpoint names
                *path, leaf = name.split(".")
                owner: torch.nn.Module = self
                for part in path:
                    if part.isdigit():
                        owner = owner[int(part)]
                        continue
                    if not hasattr(owner, part):
                        owner.add_module(part, torch.nn.Module())
                    owner = getattr(owner, part)
                owner.register_parameter(leaf, torch.nn.Parameter(t))
            self.setup()

        @property
        def W_E(self) -> Tensor:  # noqa: N802  (TransformerLens's names)
            return self.embed.weight

        @property
        def W_U(self) -> Tensor:  # noqa: N802
            return self.unembed.weight.T

        def forward(self, tokens: Tensor, *, dropout_generator: torch.Generator | None = None) -> Tensor:
            params = dict(self.state_dict(keep_vars=True))
            return power_logits(params, cfg, tokens, hook=lambda name, x: self.hook_dict[name](x),
                                dropout_generator=dropout_generator)

    return PowerTransformer().to(device)


def check(cfg: ModelConfig) -> None:
    if cfg.attn_only or cfg.normalization_type is not None:
        raise ConfigError("model.arch='power' has its own post-LayerNorm blocks: leave model.attn_only false and "
                          "model.normalization_type null")


def describe(m: ModelConfig) -> str:
    return (f"Power et al.'s transformer: {m.n_layers} post-LayerNorm layer(s), d_model {m.d_model}, "
            f"{m.n_heads} heads x {m.d_head}, FFN {m.d_mlp} ({m.act_fn}, no biases), dropout {m.dropout}"
            + (f", {m.d_vocab}-token vocabulary" if m.d_vocab else ""))


def short(m: ModelConfig) -> str:
    return f"{m.n_layers}L Power et al. transformer d_model {m.d_model} d_mlp {m.d_mlp}"


ARCH = register(Architecture(
    name="power",
    summary="Power et al. 2022's post-LayerNorm transformer: sinusoidal positions, no biases, untied output",
    build=build_power_model,
    logits=power_logits,
    resid=power_resid,
    describe=describe,
    short=short,
    task_kinds=frozenset({"pairs", "sampled"}),
    check=check,
    embedding_note="The operand embedding of Power et al.'s transformer (rows of the p numbers).",
    unembedding=True,
    no_measures=("progress measures read the TransformerLens transformer's weights (W_E, W_L = W_U W_out); this "
                 "run is Power et al.'s post-LayerNorm model (model.arch='power')"),
    batchable=False,
    act_fns=("relu", "gelu", "tanh"),
))
