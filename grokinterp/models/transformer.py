"""The TransformerLens-native transformer (`model.arch = "transformer"`), built from scratch with TransformerLens 4.

`build_model` boots a TL-native model (`TransformerBridge.boot_native`) and switches on compatibility mode,
which gives the HookedTransformer interface: `W_E`, `W_U`, `blocks[0].attn.W_Q`, `run_with_cache`, and the
standard hook names (`blocks.0.mlp.hook_post`, `blocks.0.attn.hook_pattern`, ...).

Parameters are addressed by the bridge's `state_dict()` names (`embed.weight` (d_vocab, d_model),
`blocks.0.attn.q.weight` (n_heads*d_head, d_model), `blocks.0.mlp.in.weight` (d_mlp, d_model),
`unembed.weight` (d_vocab_out, d_model), ...): these are the keys of every checkpoint, and the fused forward
(`fused_resid`, below) computes on exactly these tensors.

Inits:
- "paper" (Nanda et al. 2023, `transformers.py`): every weight N(0, 1/d_model) except the unembedding,
  N(0, 1/d_vocab_out); biases 0.
- "tl": TransformerLens's default (gpt2 scheme, std 0.8/sqrt(d_model), output projections scaled by
  1/sqrt(2 n_layers)).

The native model always has attention and MLP biases; `biases` chooses which of them train ("mlp": only
`b_in`/`b_out`, as in the paper, where the attention has no biases at all; "none"; "all"). Frozen biases
stay exactly 0, which is the same function as having none.

The fused forward (`transformer_logits(params, cfg, tokens, answer_pos)`) is a pure function of the model
config, the checkpoint tensors (named as above) and the tokens. It computes the same function as the hooked
model read at `answer_pos`, and differs only in what it skips and in floating-point summation order:

- Layer 0 sees only `W_E[token] + W_pos[pos]`, a function of (token, position). When the batch is larger
  than the vocabulary, the layer-0 LayerNorm and the Q/K/V projections are computed once per
  (token, position) pair, the attention score of every (query pair, key pair) once per head, and each
  example gathers its scores and values from these tables instead of recomputing them.
- The last layer computes queries, attention, MLP and unembedding only at the answer positions (keys and
  values still at every position they can see); given `index`, only at each example's own scored answer
  positions (`resid_at`, which scoring calls when every example scores the same number of them).
- Attention over longer sequences (query x key > 64 entries, outside the layer-0 tables) runs in torch's
  fused `scaled_dot_product_attention` kernel.
- `fused_resid` stops before the unembedding, so that scoring (`grokinterp.models.forward.fused_scored`)
  can unembed only the scored entries (label not -1).
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int, Shaped
from torch import Tensor

from grokinterp.errors import ConfigError
from grokinterp.models.config import ModelConfig, refuse_dropout
from grokinterp.models.params import (
    freeze_biases_,
    is_bias,
    is_trainable,
    named_tensors,
    position_index,
    tensor_module,
    unembed,
)
from grokinterp.models.registry import Architecture, register


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


def build_transformer(
    cfg: ModelConfig,
    d_vocab: int,
    d_vocab_out: int,
    n_ctx: int,
    device: str | torch.device = "cpu",
):
    """A hooked TL-native transformer (a `TransformerBridge` in compatibility mode), initialised by `cfg`."""
    TransformerBridge, _ = _import_tl()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = TransformerBridge.boot_native(bridge_config(cfg, d_vocab, d_vocab_out, n_ctx))
        model.enable_compatibility_mode()
    params = named_tensors(model)
    if cfg.init == "paper":
        paper_init_(params, cfg, d_vocab_out)
    freeze_biases_(params, cfg.biases)
    if torch.device(device) != torch.device("cpu"):  # boot_native builds on the CPU; .to() prints a line
        model = model.to(device)
    return model



def native_layout(cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int) -> dict[str, tuple[int, ...]]:
    """The TL-native model's tensor names and shapes in its `state_dict()` order (`unembed.bias` is a buffer).
    `tests/models/test_transformer.py` checks it against the bridge for every layout the configs allow."""
    d, hd = cfg.d_model, cfg.n_heads * cfg.d_head
    ln = {"weight": (d,), "bias": (d,)} if cfg.normalization_type == "LN" else {}
    out: dict[str, tuple[int, ...]] = {"embed.weight": (d_vocab, d), "pos_embed.weight": (n_ctx, d)}
    for layer in range(cfg.n_layers):
        pre = f"blocks.{layer}"
        out.update({f"{pre}.ln1.{k}": v for k, v in ln.items()})
        for n in "qkv":
            out.update({f"{pre}.attn.{n}.weight": (hd, d), f"{pre}.attn.{n}.bias": (hd,)})
        out.update({f"{pre}.attn.o.weight": (d, hd), f"{pre}.attn.o.bias": (d,)})
        if not cfg.attn_only:
            out.update({f"{pre}.ln2.{k}": v for k, v in ln.items()})
            out.update({f"{pre}.mlp.in.weight": (cfg.d_mlp, d), f"{pre}.mlp.in.bias": (cfg.d_mlp,),
                        f"{pre}.mlp.out.weight": (d, cfg.d_mlp), f"{pre}.mlp.out.bias": (d,)})
    out.update({f"ln_final.{k}": v for k, v in ln.items()})
    out.update({"unembed.weight": (d_vocab_out, d), "unembed.bias": (d_vocab_out,)})
    return out


def build_native_tensors(cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int,
                         device: str | torch.device = "cpu") -> torch.nn.Module | None:
    """The tensors of `build_transformer` without TransformerLens (no import, no bridge: ~3.5 s saved on a
    cold start) where they do not depend on its own init: with `init="paper"` every parameter is drawn by
    `paper_init_`, so the bare module's tensors equal the hooked model's bitwise. None for `init="tl"`."""
    if cfg.init != "paper":
        return None
    module = tensor_module({n: torch.zeros(shape) for n, shape in native_layout(cfg, d_vocab, d_vocab_out,
                                                                              n_ctx).items()})
    params = named_tensors(module)
    paper_init_(params, cfg, d_vocab_out)
    freeze_biases_(params, cfg.biases)
    return module.to(device) if torch.device(device) != torch.device("cpu") else module


EVAL_CHUNK_TOKENS = 12_288  # see `fused_resid`


def _act(cfg: ModelConfig, x: Tensor) -> Tensor:
    if cfg.act_fn == "relu":
        return F.relu(x, inplace=not torch.is_grad_enabled())  # x is a fresh pre-activation: no copy needed
    return F.gelu(x)


def _ln(params: dict[str, Tensor], name: str, cfg: ModelConfig, x: Tensor) -> Tensor:
    if cfg.normalization_type is None:
        return x
    # TL-native uses nn.LayerNorm with eps 1e-5
    return F.layer_norm(x, x.shape[-1:], params[f"{name}.weight"], params[f"{name}.bias"], 1e-5)


def _bias(params: dict[str, Tensor], cfg: ModelConfig, name: str) -> Tensor | None:
    """The bias `name`, or None for a frozen one: `model.biases` freezes them at exactly 0 (see
    `grokinterp.models.params`), and a matmul without a bias skips addmm's copy of it into every output row."""
    return params[name] if is_trainable(name, cfg.biases) else None


def _layer0_tables(params: dict[str, Tensor], cfg: ModelConfig, seq: int):
    """ln1 input/output and q/k/v for every (token, position) pair: shape (d_vocab * seq, ...)."""
    we, wp = params["embed.weight"], params["pos_embed.weight"][:seq]
    x = (we[:, None, :] + wp[None, :, :]).reshape(-1, we.shape[1])
    h = _ln(params, "blocks.0.ln1", cfg, x)
    return x, h


def _small_attention(scores: Tensor, v: Tensor, causal: Tensor) -> Tensor:
    """Softmax of (batch, q, k, head) scores, masked where `causal` ((q, k), or (batch, q, k) when each example
    has its own queries), applied to (batch, k, head, d_head) values."""
    if bool(causal.any()):
        scores = scores.masked_fill(causal.reshape(-1, *causal.shape[-2:])[..., None], float("-inf"))
    pattern = scores.softmax(dim=2)
    if pattern.shape[1] * pattern.shape[2] <= 64:
        return (pattern[..., None] * v[:, None]).sum(2)  # (batch, q, head, d_head)
    return torch.einsum("bqkh,bkhd->bqhd", pattern, v)


def _long_attention(q: Tensor, k: Tensor, v: Tensor, q_pos: Tensor, causal: Tensor) -> Tensor:
    """Causal attention of (batch, q, head, d_head) queries at `q_pos` ((q,), or (batch, q) when each example has
    its own) over (batch, k, head, d_head) keys and values in torch's fused `scaled_dot_product_attention`;
    `causal` is `q_pos`'s mask, (q, k) or (batch, q, k). Returns (batch, q, head, d_head). (Two einsums and an
    additive mask were 15% slower over a whole repeat-subseq step, forward and backward.)"""
    # queries at positions 0..nq-1 are torch's top-left causal mask: its faster kernel path
    top_left = q_pos.dim() == 1 and bool((q_pos == torch.arange(len(q_pos), device=q_pos.device)).all())
    z = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                       attn_mask=None if top_left else ~causal.unsqueeze(-3), is_causal=top_left)
    return z.transpose(1, 2)


def transformer_logits(
    params: dict[str, Tensor],
    cfg: ModelConfig,
    tokens: Shaped[Tensor, "batch pos"],
    answer_pos: tuple[int, ...],
) -> Float[Tensor, "batch n_answer d_vocab_out"]:
    """Logits at `answer_pos` of the TL-native transformer with these parameters."""
    return unembed(params, fused_resid(params, cfg, tokens, answer_pos))


def transformer_resid(params: dict[str, Tensor], cfg: ModelConfig, tokens: Int[Tensor, "batch pos"],
                      answer_pos: tuple[int, ...], dropout_generator: torch.Generator | None = None
                      ) -> Float[Tensor, "batch n_answer d_model"]:
    """`fused_resid` as the registry calls it (the transformer has no dropout)."""
    return fused_resid(params, cfg, tokens, answer_pos)


def _rows_at(t: Tensor, pos: Int[Tensor, "batch k"]) -> Tensor:
    """(batch, k, ...) rows of a (batch, seq, ...) tensor at each example's positions `pos`. index_select's
    backward adds each row once into zeros: deterministic (unlike advanced indexing's index_put)."""
    batch, seq = t.shape[:2]
    flat = (torch.arange(batch, device=pos.device)[:, None] * seq + pos).reshape(-1)
    return t.reshape(batch * seq, *t.shape[2:]).index_select(0, flat).view(*pos.shape, *t.shape[2:])


def fused_resid(
    params: dict[str, Tensor],
    cfg: ModelConfig,
    tokens: Int[Tensor, "batch pos"],
    answer_pos: tuple[int, ...],
    index: Int[Tensor, "batch k"] | None = None,
) -> Float[Tensor, "batch n d_model"]:
    """The transformer's final residual stream at `answer_pos` (n = n_answer), after `ln_final` (the unembedding's
    input); with `index`, at each example's own answer positions `answer_pos[index[b]]` instead (n = k): the last
    layer then computes queries, attention and MLP at those k positions only (repeat-subseq scores 30 of its 84
    per sequence).

    Without gradients, a large batch is computed in chunks of about `EVAL_CHUNK_TOKENS` tokens: every op is
    row-wise, so the result is the same, and the chunk's activations stay in cache (all 12,769 mod-113
    pairs: 45 ms in one piece, 30 ms in chunks of 4,096)."""
    if not torch.is_grad_enabled() and tokens.shape[0] * tokens.shape[1] > EVAL_CHUNK_TOKENS:
        n = max(1, EVAL_CHUNK_TOKENS // tokens.shape[1])
        chunks = index.split(n) if index is not None else [None] * len(tokens.split(n))
        return torch.cat([fused_resid(params, cfg, c, answer_pos, i) for c, i in zip(tokens.split(n), chunks)])
    batch, seq = tokens.shape
    seq = max(answer_pos) + 1  # later positions cannot influence the answer (causal attention)
    tokens = tokens[:, :seq]
    n_heads, d_head = cfg.n_heads, cfg.d_head
    d_vocab = params["embed.weight"].shape[0]
    # per-(token, position) tables pay when there are more examples than tokens, and the (head, row, row)
    # score table stays small (16M entries at most)
    use_tables = batch > d_vocab and cfg.n_heads * (d_vocab * seq) ** 2 <= 2**24
    ans = torch.tensor(answer_pos, device=tokens.device)
    at_ans = position_index(answer_pos)  # contiguous answer positions as a slice
    # the last layer's query positions, (n_answer,) or (batch, k), and the rows of a (batch, seq, ...) tensor there
    last_pos = ans if index is None else ans[index]

    def at_last(t: Tensor) -> Tensor:
        return t[:, at_ans] if index is None else _rows_at(t, last_pos)

    if use_tables:
        flat = tokens * seq + torch.arange(seq, device=tokens.device)  # row of each (token, pos) in the tables
        x_tab, h_tab = _layer0_tables(params, cfg, seq)
        # one-layer models only need the residual at the answer positions
        x_at_ans = cfg.n_layers == 1
        x = F.embedding(at_last(flat) if x_at_ans else flat, x_tab)
    else:
        x_at_ans = False
        x = F.embedding(tokens, params["embed.weight"]) + params["pos_embed.weight"][:seq]

    all_pos = torch.arange(seq, device=tokens.device)
    for layer in range(cfg.n_layers):
        pre = f"blocks.{layer}"
        last = layer == cfg.n_layers - 1
        q_pos = last_pos if last else all_pos
        nq = q_pos.shape[-1]
        w = {n: params[f"{pre}.attn.{n}.weight"] for n in "qkv"}
        b = {n: _bias(params, cfg, f"{pre}.attn.{n}.bias") for n in "qkv"}
        causal = all_pos > q_pos[..., None]  # (q, k) or (batch, q, k): key after query, masked
        if layer == 0 and use_tables:
            n_rows = h_tab.shape[0]
            q_tab = F.linear(h_tab, w["q"], b["q"]).view(n_rows, n_heads, d_head)
            k_tab = F.linear(h_tab, w["k"], b["k"]).view(n_rows, n_heads, d_head)
            # every (query row, key row) score at once, then a gather per example
            # laid out (query row, key row, head), so that each gathered score row is 4 contiguous floats
            s_tab = torch.einsum("qhd,khd->qkh", q_tab * (1 / math.sqrt(d_head)), k_tab)
            q_rows = at_last(flat) if last else flat
            pair = q_rows[:, :, None] * n_rows + flat[:, None, :]  # (batch, q, k)
            # an embedding lookup, not advanced indexing: the backward of `s_tab[:, pair]` (index_put with
            # accumulate) sums in a thread-dependent order on CPU, so two identical runs drifted apart
            scores = F.embedding(pair, s_tab.reshape(-1, n_heads))  # (batch, q, k, head)
            v = F.embedding(flat, F.linear(h_tab, w["v"], b["v"])).view(batch, seq, n_heads, d_head)
            z = _small_attention(scores, v, causal)
        else:
            h = _ln(params, f"{pre}.ln1", cfg, x)
            k = F.linear(h, w["k"], b["k"]).view(batch, seq, n_heads, d_head)
            v = F.linear(h, w["v"], b["v"]).view(batch, seq, n_heads, d_head)
            q = F.linear(at_last(h) if last else h, w["q"], b["q"]).view(batch, nq, n_heads, d_head)
            if nq * seq <= 64:  # tiny attention: broadcasting beats many tiny batched matmuls
                z = _small_attention((q[:, :, None] * k[:, None]).sum(-1) / math.sqrt(d_head), v, causal)
            else:
                z = _long_attention(q, k, v, q_pos, causal)
        attn_out = F.linear(z.reshape(batch, nq, n_heads * d_head), params[f"{pre}.attn.o.weight"],
                            _bias(params, cfg, f"{pre}.attn.o.bias"))
        x = (at_last(x) if last and not x_at_ans else x) + attn_out
        if not cfg.attn_only:
            h2 = _ln(params, f"{pre}.ln2", cfg, x)
            pre_act = F.linear(h2, params[f"{pre}.mlp.in.weight"], _bias(params, cfg, f"{pre}.mlp.in.bias"))
            x = x + F.linear(_act(cfg, pre_act), params[f"{pre}.mlp.out.weight"],
                             _bias(params, cfg, f"{pre}.mlp.out.bias"))
    return _ln(params, "ln_final", cfg, x)


def check_run(run_cfg) -> None:
    if run_cfg.train.weight_noise > 0 and run_cfg.train.engine == "hooked":
        raise ConfigError("train.weight_noise on the TransformerLens transformer needs train.engine=fused (the "
                          "bridge cannot run on substituted weights)")


def describe(m: ModelConfig) -> str:
    return (f"{m.n_layers} layer(s), d_model {m.d_model}, {m.n_heads} heads x {m.d_head}, d_mlp {m.d_mlp}, "
            f"{m.act_fn}, norm {m.normalization_type}, init {m.init}, biases {m.biases}"
            + (f", {m.d_vocab}-token vocabulary" if m.d_vocab else ""))


def short(m: ModelConfig) -> str:
    width = "attention-only" if m.attn_only else f"d_mlp {m.d_mlp}"
    return f"{m.n_layers}L transformer d_model {m.d_model} {width}"


ARCH = register(Architecture(
    name="transformer",
    summary="the TransformerLens-native transformer (Nanda et al.'s one-layer model and its relatives)",
    build=build_transformer,
    build_tensors=build_native_tensors,
    logits=transformer_logits,
    resid=transformer_resid,
    resid_at=fused_resid,
    describe=describe,
    short=short,
    task_kinds=frozenset({"pairs", "sampled"}),
    check=refuse_dropout,
    check_run=check_run,
    tl_native=True,
    unembedding=True,
))
