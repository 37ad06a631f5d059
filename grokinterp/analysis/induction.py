"""Induction-head scores of every attention head (Olsson et al. 2022, "In-context Learning and Induction
Heads"; Elhage et al. 2021, "A Mathematical Framework for Transformer Circuits"), for any TransformerLens
hooked model without a tokenizer.

The probe is `n_seqs` sequences `r r`: a block r of `seq_len` random token ids from `model.cfg.d_vocab`
written twice (no BOS). r is drawn without repeats when the vocabulary has at least `seq_len` tokens, so
every token of the second copy has exactly one earlier occurrence. With A[q, k] a head's attention pattern:

- prefix_matching = mean over second-copy queries q (L <= q < 2L) of A[q, q-L+1]: attention to the token
  that followed the current token's earlier occurrence (Olsson et al.'s prefix-matching score; the
  TransformerLens/ARENA "induction score" with exactly these queries).
- induction = mean over the same queries of sum_k A[q, k] D[q, k], with D the TransformerLens
  `induction_head` detection pattern (D[q, k] = 1 where token k-1 equals token q, k <= q): the share of
  attention on *any* induction target, so accidental repeats (small vocabularies) count too. It equals
  prefix_matching when r has no repeats.
- duplicate_token = the same with D[q, k] = 1 where token k equals token q, k < q (attention to earlier
  copies of the current token).
- previous_token = mean over all queries q >= 1 of A[q, q-1].
- copying (`copying_scores`) = sum_i Re(lambda_i) / sum_i |lambda_i| over the eigenvalues of the OV circuit
  W_E W_V^h W_O^h W_U (restricted to the first min(d_vocab, d_vocab_out) tokens): positive when the head
  raises the logit of the token it attends to. Biases and LayerNorm are ignored, as in the paper.

Scores are `[n_layers, n_heads]` tensors. `grokinterp.progress.head_scores(run)` evaluates every checkpoint of a run
with the same probe and returns a table per step and head.
"""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

SCORES = ("induction", "prefix_matching", "previous_token", "duplicate_token")


def repeated_tokens(d_vocab: int, seq_len: int, n_seqs: int, seed: int = 0) -> Int[Tensor, "n_seqs two_seq"]:
    """`n_seqs` sequences `r r`, r of `seq_len` token ids (without repeats when d_vocab >= seq_len)."""
    gen = torch.Generator().manual_seed(seed)
    if d_vocab >= seq_len:
        r = torch.rand(n_seqs, d_vocab, generator=gen).argsort(dim=1)[:, :seq_len]
    else:
        r = torch.randint(0, d_vocab, (n_seqs, seq_len), generator=gen)
    return torch.cat([r, r], dim=1)


def _probe_len(model, seq_len: int | None) -> int:
    n_ctx = model.cfg.n_ctx
    L = n_ctx // 2 if seq_len is None else seq_len
    if L < 2 or 2 * L > n_ctx:
        raise ValueError(f"seq_len must be in [2, n_ctx/2 = {n_ctx // 2}] (the probe is r r), got {L}")
    return L


def pattern_scores(
    patterns: Float[Tensor, "layer batch head q k"], tokens: Int[Tensor, "batch pos"], seq_len: int
) -> dict[str, Float[Tensor, "layer head"]]:
    """The four attention scores from attention patterns on the probe `tokens` (`r r`, r of `seq_len`)."""
    L = seq_len
    pos = tokens.shape[1]
    q2 = torch.arange(L, 2 * L)
    tok = tokens
    same = tok[:, :, None] == tok[:, None, :]  # (batch, q, k): token k equals token q
    causal = torch.ones(pos, pos, dtype=torch.bool).tril()
    dup = same & causal & ~torch.eye(pos, dtype=torch.bool)
    ind = torch.zeros_like(same)
    ind[:, :, 1:] = same[:, :, :-1] & causal[:, 1:]  # token k-1 equals token q, k <= q
    p = patterns.float()
    second = p[:, :, :, q2]  # (layer, batch, head, q2, k)
    return {
        "induction": (second * ind[:, q2][None, :, None]).sum(-1).mean(dim=(1, 3)),
        "prefix_matching": second[..., torch.arange(L), q2 - L + 1].mean(dim=(1, 3)),
        "previous_token": p[..., torch.arange(1, pos), torch.arange(pos - 1)].mean(dim=(1, 3)),
        "duplicate_token": (second * dup[:, q2][None, :, None]).sum(-1).mean(dim=(1, 3)),
    }


def head_scores(model, seq_len: int | None = None, n_seqs: int = 32, seed: int = 0) -> dict[str, Tensor]:
    """Induction, prefix-matching, previous-token and duplicate-token scores, each `[n_layers, n_heads]`.

    `seq_len` defaults to n_ctx // 2 (the probe `r r` fills the context).
    """
    L = _probe_len(model, seq_len)
    tokens = repeated_tokens(model.cfg.d_vocab, L, n_seqs, seed)
    device = next(model.parameters()).device
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens.to(device), names_filter=lambda n: n.endswith("attn.hook_pattern"))
    patterns = torch.stack([cache[f"blocks.{layer}.attn.hook_pattern"].cpu() for layer in range(model.cfg.n_layers)])
    return pattern_scores(patterns, tokens, L)


def copying_scores(model) -> Float[Tensor, "layer head"]:
    """sum Re(lambda) / sum |lambda| of each head's OV circuit W_E W_V W_O W_U (0 for a zero circuit)."""
    with torch.no_grad():
        m = min(model.W_E.shape[0], model.W_U.shape[1])
        W_E, W_U = model.W_E[:m].double(), model.W_U[:, :m].double()
        # nonzero eigenvalues of W_E W_V W_O W_U equal those of W_O W_U W_E W_V (d_head x d_head)
        small = model.W_O.double() @ (W_U @ W_E) @ model.W_V.double()  # (layer, head, d_head, d_head)
        eig = torch.linalg.eigvals(small)
        total = eig.abs().sum(-1)
        return torch.where(total > 1e-12 * total.max().clamp(min=1e-300), eig.real.sum(-1) / total.clamp(min=1e-300),
                           0.0).float()


def top_head(scores: Float[np.ndarray, "layer head"]) -> tuple[int, int]:
    """(layer, head) of the highest score, e.g. of `progress.head_scores(run)["induction"][-1]`."""
    layer, head = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return int(layer), int(head)
