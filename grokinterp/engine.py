"""The two training engines: `hooked` (the TransformerLens forward on all positions) and `fused` (only what
the loss needs, on the same parameters).

`fused_logits(params, cfg, tokens, answer_pos)` is a pure function of the model config, the checkpoint
tensors (named as in `grokinterp.models`) and the tokens. It computes the same function as the hooked model
read at `answer_pos`, and differs only in what it skips and in floating-point summation order:

- Layer 0 sees only `W_E[token] + W_pos[pos]`, a function of (token, position). When the batch is larger
  than the vocabulary, the layer-0 LayerNorm and the Q/K/V projections are computed once per
  (token, position) pair, the attention score of every (query pair, key pair) once per head, and each
  example gathers its scores and values from these tables instead of recomputing them.
- The last layer computes queries, attention, MLP and unembedding only at the answer positions (keys and
  values still at every position they can see).
- Attention over longer sequences (query x key > 64 entries, outside the layer-0 tables) runs in torch's
  fused `scaled_dot_product_attention` kernel.
- `fused_resid` stops before the unembedding, so that `grokinterp.scored` can unembed only the scored
  entries (label not -1).

`answer_loss` is the cross-entropy on the answer positions with the log-softmax in float64 (late in
grokking the train loss is ~1e-7, below float32 resolution of log-probabilities near 0).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int, Shaped
from torch import Tensor

from grokinterp.config import ModelConfig
from grokinterp.models import is_trainable
from grokinterp.power import position_index, power_logits

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
    `grokinterp.models`), and a matmul without a bias skips addmm's copy of it into every output row."""
    return params[name] if is_trainable(name, cfg.biases) else None


def _layer0_tables(params: dict[str, Tensor], cfg: ModelConfig, seq: int):
    """ln1 input/output and q/k/v for every (token, position) pair: shape (d_vocab * seq, ...)."""
    we, wp = params["embed.weight"], params["pos_embed.weight"][:seq]
    x = (we[:, None, :] + wp[None, :, :]).reshape(-1, we.shape[1])
    h = _ln(params, "blocks.0.ln1", cfg, x)
    return x, h


def _small_attention(scores: Tensor, v: Tensor, causal: Tensor) -> Tensor:
    """Softmax of (batch, q, k, head) scores, masked where `causal`, applied to (batch, k, head, d_head) values."""
    if bool(causal.any()):
        scores = scores.masked_fill(causal[None, :, :, None], float("-inf"))
    pattern = scores.softmax(dim=2)
    if pattern.shape[1] * pattern.shape[2] <= 64:
        return (pattern[..., None] * v[:, None]).sum(2)  # (batch, q, head, d_head)
    return torch.einsum("bqkh,bkhd->bqhd", pattern, v)


def _long_attention(q: Tensor, k: Tensor, v: Tensor, q_pos: Tensor, causal: Tensor) -> Tensor:
    """Causal attention of (batch, q, head, d_head) queries at `q_pos` over (batch, k, head, d_head) keys and
    values in torch's fused `scaled_dot_product_attention`; returns (batch, q, head, d_head). (Two einsums and
    an additive mask were 15% slower over a whole repeat-subseq step, forward and backward.)"""
    # queries at positions 0..nq-1 are torch's top-left causal mask: its faster kernel path
    top_left = bool((q_pos == torch.arange(len(q_pos), device=q_pos.device)).all())
    z = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                       attn_mask=None if top_left else ~causal, is_causal=top_left)
    return z.transpose(1, 2)


def _mlp_logits(params: dict[str, Tensor], cfg: ModelConfig, inputs: Tensor) -> Tensor:
    if cfg.arch == "mlp":
        from grokinterp.models import pair_mlp_logits

        return pair_mlp_logits(params, inputs)
    from grokinterp.mlps import image_mlp_logits, onehot_mlp_logits, toy_logits

    logits = {"toy": toy_logits, "image-mlp": image_mlp_logits, "onehot-mlp": onehot_mlp_logits}[cfg.arch]
    return logits(params, cfg, inputs)


def fused_logits(
    params: dict[str, Tensor],
    cfg: ModelConfig,
    tokens: Shaped[Tensor, "batch pos"],
    answer_pos: tuple[int, ...],
) -> Float[Tensor, "batch n_answer d_vocab_out"]:
    """Logits at `answer_pos` of the TL-native transformer (or of the MLPs) with these parameters; `tokens`
    are token ids, or float pixels for the image MLP."""
    if cfg.arch == "power":
        return power_logits(params, cfg, tokens, answer_pos)
    if cfg.arch != "transformer":
        logits = _mlp_logits(params, cfg, tokens)
        return logits[:, None, :].expand(logits.shape[0], len(answer_pos), logits.shape[-1])
    return unembed(params, fused_resid(params, cfg, tokens, answer_pos))


def unembed(params: dict[str, Tensor], resid: Float[Tensor, "... d_model"]) -> Float[Tensor, "... d_vocab_out"]:
    """`W_U` (and its bias buffer) applied to final residuals (after `ln_final`)."""
    return F.linear(resid, params["unembed.weight"], params.get("unembed.bias"))


def fused_resid(
    params: dict[str, Tensor],
    cfg: ModelConfig,
    tokens: Int[Tensor, "batch pos"],
    answer_pos: tuple[int, ...],
) -> Float[Tensor, "batch n_answer d_model"]:
    """The transformer's final residual stream at `answer_pos`, after `ln_final` (the unembedding's input).

    Without gradients, a large batch is computed in chunks of about `EVAL_CHUNK_TOKENS` tokens: every op is
    row-wise, so the result is the same, and the chunk's activations stay in cache (all 12,769 mod-113
    pairs: 45 ms in one piece, 30 ms in chunks of 4,096)."""
    if not torch.is_grad_enabled() and tokens.shape[0] * tokens.shape[1] > EVAL_CHUNK_TOKENS:
        n = max(1, EVAL_CHUNK_TOKENS // tokens.shape[1])
        return torch.cat([fused_resid(params, cfg, c, answer_pos) for c in tokens.split(n)])
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

    if use_tables:
        flat = tokens * seq + torch.arange(seq, device=tokens.device)  # row of each (token, pos) in the tables
        x_tab, h_tab = _layer0_tables(params, cfg, seq)
        # one-layer models only need the residual at the answer positions
        x_at_ans = cfg.n_layers == 1
        x = F.embedding(flat[:, at_ans] if x_at_ans else flat, x_tab)
    else:
        x_at_ans = False
        x = F.embedding(tokens, params["embed.weight"]) + params["pos_embed.weight"][:seq]

    all_pos = torch.arange(seq, device=tokens.device)
    for layer in range(cfg.n_layers):
        pre = f"blocks.{layer}"
        last = layer == cfg.n_layers - 1
        q_pos = ans if last else all_pos
        nq = len(q_pos)
        w = {n: params[f"{pre}.attn.{n}.weight"] for n in "qkv"}
        b = {n: _bias(params, cfg, f"{pre}.attn.{n}.bias") for n in "qkv"}
        causal = all_pos[None, :] > q_pos[:, None]  # (q, k): key after query, masked
        if layer == 0 and use_tables:
            n_rows = h_tab.shape[0]
            q_tab = F.linear(h_tab, w["q"], b["q"]).view(n_rows, n_heads, d_head)
            k_tab = F.linear(h_tab, w["k"], b["k"]).view(n_rows, n_heads, d_head)
            # every (query row, key row) score at once, then a gather per example
            # laid out (query row, key row, head), so that each gathered score row is 4 contiguous floats
            s_tab = torch.einsum("qhd,khd->qkh", q_tab * (1 / math.sqrt(d_head)), k_tab)
            q_rows = flat[:, at_ans] if last else flat
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
            q = F.linear(h[:, at_ans] if last else h, w["q"], b["q"]).view(batch, nq, n_heads, d_head)
            if nq * seq <= 64:  # tiny attention: broadcasting beats many tiny batched matmuls
                z = _small_attention((q[:, :, None] * k[:, None]).sum(-1) / math.sqrt(d_head), v, causal)
            else:
                z = _long_attention(q, k, v, q_pos, causal)
        attn_out = F.linear(z.reshape(batch, nq, n_heads * d_head), params[f"{pre}.attn.o.weight"],
                            _bias(params, cfg, f"{pre}.attn.o.bias"))
        x = (x[:, at_ans] if last and not x_at_ans else x) + attn_out
        if not cfg.attn_only:
            h2 = _ln(params, f"{pre}.ln2", cfg, x)
            pre_act = F.linear(h2, params[f"{pre}.mlp.in.weight"], _bias(params, cfg, f"{pre}.mlp.in.bias"))
            x = x + F.linear(_act(cfg, pre_act), params[f"{pre}.mlp.out.weight"],
                             _bias(params, cfg, f"{pre}.mlp.out.bias"))
    return _ln(params, "ln_final", cfg, x)


def hooked_logits(
    model: torch.nn.Module, tokens: Int[Tensor, "batch pos"], answer_pos: tuple[int, ...]
) -> Float[Tensor, "batch n_answer d_vocab_out"]:
    """Logits at `answer_pos` from the full TransformerLens forward (every position computed)."""
    return model(tokens)[:, list(answer_pos)]


def answer_loss(
    logits: Float[Tensor, "batch n_answer d_vocab_out"], labels: Int[Tensor, "batch n_answer"]
) -> Float[Tensor, ""]:
    """Mean cross-entropy over examples and scored answer positions (label -1 = not scored), log-softmax in
    float64."""
    return scored_nll(logits.to(torch.float64).log_softmax(dim=-1), labels)


def scored_nll(logp: Float[Tensor, "batch n_answer d_vocab_out"],
               labels: Int[Tensor, "batch n_answer"]) -> Float[Tensor, ""]:
    """Mean -logp[label] over the scored entries (label -1 = not scored)."""
    scored = labels >= 0
    nll = -logp.gather(-1, labels.clamp(min=0)[..., None])[..., 0]
    return torch.where(scored, nll, 0.0).sum() / scored.sum().clamp(min=1)


def mse_loss(
    logits: Float[Tensor, "batch n_answer d_vocab_out"], labels: Int[Tensor, "batch n_answer"]
) -> Float[Tensor, ""]:
    """Mean squared error against one-hot targets, averaged over outputs, examples and scored positions
    (`nn.MSELoss()` on one-hot labels, Omnigrok's MNIST loss), in float64."""
    scored = labels >= 0
    target = torch.nn.functional.one_hot(labels.clamp(min=0), logits.shape[-1]).to(torch.float64)
    sq = (logits.to(torch.float64) - target).pow(2).mean(dim=-1)
    return torch.where(scored, sq, 0.0).sum() / scored.sum().clamp(min=1)


def _stablemax_s(x: Tensor) -> Tensor:
    # s(x) = x + 1 for x >= 0 and 1 / (1 - x) for x < 0; each branch sees only its own half, so neither
    # produces an inf (and a NaN gradient) on the other side of 0
    return torch.where(x >= 0, x.clamp(min=0) + 1, 1 / (1 - x.clamp(max=0)))


def stablemax(logits: Float[Tensor, "*shape"], dim: int = -1) -> Float[Tensor, "*shape"]:
    """StableMax (Prieto et al. 2025, "Grokking at the edge of numerical stability"): s(x_i) / sum_j s(x_j)
    with s(x) = x + 1 for x >= 0 and 1 / (1 - x) for x < 0. It grows linearly where softmax grows
    exponentially, so large logits do not push the other classes' terms below float resolution."""
    s = _stablemax_s(logits)
    return s / s.sum(dim=dim, keepdim=True)


def log_stablemax(logits: Float[Tensor, "*shape"], dim: int = -1) -> Float[Tensor, "*shape"]:
    """log `stablemax`."""
    s = _stablemax_s(logits)
    return s.log() - s.sum(dim=dim, keepdim=True).log()


def stablemax_loss(
    logits: Float[Tensor, "batch n_answer d_vocab_out"], labels: Int[Tensor, "batch n_answer"]
) -> Float[Tensor, ""]:
    """Mean StableMax cross-entropy -log stablemax(z)_label over the scored positions, in float64."""
    return scored_nll(log_stablemax(logits.to(torch.float64)), labels)


LOSSES = {"ce": answer_loss, "mse": mse_loss, "stablemax": stablemax_loss}


def task_loss(logits: Float[Tensor, "batch n_answer d_vocab_out"], labels: Int[Tensor, "batch n_answer"],
              kind: str = "ce") -> Float[Tensor, ""]:
    """The training loss `kind` ("ce": `answer_loss`, "mse": `mse_loss`, "stablemax": `stablemax_loss`)."""
    return LOSSES[kind](logits, labels)


def position_losses(
    logits: Float[Tensor, "batch n_answer d_vocab_out"], labels: Int[Tensor, "batch n_answer"]
) -> tuple[list[float], list[float]]:
    """Per answer position: mean cross-entropy and accuracy over the examples where it is scored."""
    logp = logits.to(torch.float64).log_softmax(dim=-1)
    scored = labels >= 0
    nll = -logp.gather(-1, labels.clamp(min=0)[..., None])[..., 0]
    n = scored.sum(0).clamp(min=1)
    right = (logits.argmax(dim=-1) == labels) & scored
    return ((torch.where(scored, nll, 0.0).sum(0) / n).tolist(), (right.sum(0) / n).tolist())


def accuracy(logits: Float[Tensor, "batch n_answer d_vocab_out"], labels: Int[Tensor, "batch n_answer"]) -> float:
    """Fraction of examples whose every scored answer position is predicted exactly."""
    return ((logits.argmax(dim=-1) == labels) | (labels < 0)).all(dim=-1).float().mean().item()


def token_accuracy(logits: Float[Tensor, "batch n_answer d_vocab_out"], labels: Int[Tensor, "batch n_answer"]) -> float:
    """Fraction of scored answer positions (label >= 0) predicted exactly."""
    scored = labels >= 0
    right = (logits.argmax(dim=-1) == labels) & scored
    return (right.sum() / scored.sum().clamp(min=1)).item()
