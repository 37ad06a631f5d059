"""Heads that find the largest token, for the seeds' max-element task ("START 0 4 7 2 4 14 9 7 2 5 3 END":
predict the maximum at the end).

A one-layer model can solve it with one head whose query at the answer position scores keys by token value
and whose OV circuit copies the attended token. `max_attention` measures that head: for head h and a batch of
sequences x_b (the answer read at position q),

    score_h = mean_b  sum_{j : x_bj = max_b}  A^h_b[q, j],

the attention the answer position pays to the positions that hold the sequence's maximum. It is 1 for a
perfect "argmax head" and about (number of maximal positions) / (q + 1) for uniform attention.
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor


def max_attention(pattern: Float[Tensor, "batch head query key"], tokens: Int[Tensor, "batch pos"],
                  query: int, n_values: int) -> Float[Tensor, " head"]:
    """Each head's attention from position `query` to the maximal tokens among `tokens[:, :n_values]`."""
    values = tokens[:, :n_values]
    is_max = (values == values.max(dim=1, keepdim=True).values).to(pattern.dtype)  # (batch, n_values)
    return torch.einsum("bhk,bk->h", pattern[:, :, query, :n_values], is_max) / len(tokens)


def uniform_max_attention(tokens: Int[Tensor, "batch pos"], query: int, n_values: int) -> float:
    """What `max_attention` gives for uniform causal attention: mean number of maximal positions / (query + 1)."""
    values = tokens[:, :n_values]
    return float((values == values.max(dim=1, keepdim=True).values).sum(1).double().mean()) / (query + 1)
