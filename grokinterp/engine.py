"""The two training engines: `hooked` (the TransformerLens forward on all positions) and `fused` (only what
the loss needs, on the same parameters).

`fused_logits(params, cfg, tokens, answer_pos)` is a pure function of the model config, the checkpoint
tensors (named as in `grokinterp.models`) and the tokens. It computes the same function as the hooked model
read at `answer_pos`, and differs only in what it skips and in floating-point summation order:

- Layer 0 sees only `W_E[token] + W_pos[pos]`, a function of (token, position). When the batch is larger
  than the vocabulary, the layer-0 LayerNorm and the Q/K/V projections are computed once per
  (token, position) pair and gathered, instead of once per example.
- The last layer computes queries, attention, MLP and unembedding only at the answer positions (keys and
  values still at every position they can see).

`answer_loss` is the cross-entropy on the answer positions with the log-softmax in float64 (late in
grokking the train loss is ~1e-7, below float32 resolution of log-probabilities near 0).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from grokinterp.config import ModelConfig


def _act(cfg: ModelConfig, x: Tensor) -> Tensor:
    return F.relu(x) if cfg.act_fn == "relu" else F.gelu(x)


def _ln(params: dict[str, Tensor], name: str, cfg: ModelConfig, x: Tensor) -> Tensor:
    if cfg.normalization_type is None:
        return x
    # TL-native uses nn.LayerNorm with eps 1e-5
    return F.layer_norm(x, x.shape[-1:], params[f"{name}.weight"], params[f"{name}.bias"], 1e-5)


def _layer0_tables(params: dict[str, Tensor], cfg: ModelConfig, seq: int):
    """ln1 input/output and q/k/v for every (token, position) pair: shape (d_vocab * seq, ...)."""
    we, wp = params["embed.weight"], params["pos_embed.weight"][:seq]
    x = (we[:, None, :] + wp[None, :, :]).reshape(-1, we.shape[1])
    h = _ln(params, "blocks.0.ln1", cfg, x)
    return x, h


def fused_logits(
    params: dict[str, Tensor],
    cfg: ModelConfig,
    tokens: Int[Tensor, "batch pos"],
    answer_pos: tuple[int, ...],
) -> Float[Tensor, "batch n_answer d_vocab_out"]:
    """Logits at `answer_pos` of the TL-native transformer with these parameters."""
    batch, seq = tokens.shape
    seq = max(answer_pos) + 1  # later positions cannot influence the answer (causal attention)
    tokens = tokens[:, :seq]
    n_heads, d_head = cfg.n_heads, cfg.d_head
    d_vocab = params["embed.weight"].shape[0]
    use_tables = batch > d_vocab
    ans = torch.tensor(answer_pos, device=tokens.device)

    if use_tables:
        flat = tokens * seq + torch.arange(seq, device=tokens.device)  # row of each (token, pos) in the tables
        x_tab, h_tab = _layer0_tables(params, cfg, seq)
        # one-layer models only need the residual at the answer positions
        x_at_ans = cfg.n_layers == 1
        x = F.embedding(flat[:, ans] if x_at_ans else flat, x_tab)
    else:
        x_at_ans = False
        x = F.embedding(tokens, params["embed.weight"]) + params["pos_embed.weight"][:seq]

    all_pos = torch.arange(seq, device=tokens.device)
    for layer in range(cfg.n_layers):
        pre = f"blocks.{layer}"
        last = layer == cfg.n_layers - 1
        w_qkv = torch.cat([params[f"{pre}.attn.{n}.weight"] for n in "qkv"])
        b_qkv = torch.cat([params[f"{pre}.attn.{n}.bias"] for n in "qkv"])
        if layer == 0 and use_tables:
            qkv = F.embedding(flat, F.linear(h_tab, w_qkv, b_qkv))  # one gather for q, k and v
        else:
            qkv = F.linear(_ln(params, f"{pre}.ln1", cfg, x), w_qkv, b_qkv)
        q, k, v = qkv.split(n_heads * d_head, dim=-1)
        if last:
            q = q[:, ans]
        q_pos = ans if last else all_pos
        nq = q.shape[1]
        q = q.reshape(batch, nq, n_heads, d_head)
        k = k.reshape(batch, seq, n_heads, d_head)
        v = v.reshape(batch, seq, n_heads, d_head)
        if nq * seq <= 64:  # tiny attention: broadcasting beats many tiny batched matmuls
            scores = (q[:, :, None] * k[:, None]).sum(-1) / math.sqrt(d_head)  # (batch, q, k, head)
            causal = all_pos[None, :] > q_pos[:, None]  # (q, k): key after query
            if bool(causal.any()):
                scores = scores.masked_fill(causal[None, :, :, None], float("-inf"))
            pattern = scores.softmax(dim=2)
            z = (pattern[..., None] * v[:, None]).sum(2)  # (batch, q, head, d_head)
        else:
            scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d_head)
            causal = all_pos[None, :] > q_pos[:, None]
            scores = scores.masked_fill(causal, float("-inf"))
            z = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(dim=-1), v)
        attn_out = F.linear(z.reshape(batch, nq, n_heads * d_head), params[f"{pre}.attn.o.weight"],
                            params[f"{pre}.attn.o.bias"])
        x = (x[:, ans] if last and not x_at_ans else x) + attn_out
        if not cfg.attn_only:
            h2 = _ln(params, f"{pre}.ln2", cfg, x)
            pre_act = F.linear(h2, params[f"{pre}.mlp.in.weight"], params[f"{pre}.mlp.in.bias"])
            x = x + F.linear(_act(cfg, pre_act), params[f"{pre}.mlp.out.weight"], params[f"{pre}.mlp.out.bias"])
    x = _ln(params, "ln_final", cfg, x)
    return F.linear(x, params["unembed.weight"], params.get("unembed.bias"))


def hooked_logits(
    model: torch.nn.Module, tokens: Int[Tensor, "batch pos"], answer_pos: tuple[int, ...]
) -> Float[Tensor, "batch n_answer d_vocab_out"]:
    """Logits at `answer_pos` from the full TransformerLens forward (every position computed)."""
    return model(tokens)[:, list(answer_pos)]


def answer_loss(
    logits: Float[Tensor, "batch n_answer d_vocab_out"], labels: Int[Tensor, "batch n_answer"]
) -> Float[Tensor, ""]:
    """Mean cross-entropy over examples and answer positions, log-softmax in float64."""
    logp = logits.to(torch.float64).log_softmax(dim=-1)
    return -logp.gather(-1, labels[..., None]).mean()


def accuracy(logits: Float[Tensor, "batch n_answer d_vocab_out"], labels: Int[Tensor, "batch n_answer"]) -> float:
    """Fraction of examples whose every answer position is predicted exactly."""
    return (logits.argmax(dim=-1) == labels).all(dim=-1).float().mean().item()
