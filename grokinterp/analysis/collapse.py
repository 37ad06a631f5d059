"""Softmax collapse (Prieto, Barsbey, Mediano & Birdal 2025, "Grokking at the edge of numerical stability").

Once a model fits its training set, cross-entropy keeps falling by scaling the logits up. Eventually, for a
sample with logits z, every exp(z_j - max z) except the largest rounds to nothing next to 1. Then the
computed softmax is exactly one-hot, the sample's loss and its gradient are exactly 0 in that float type, and
it stops contributing to learning. Their measure, for the training samples:

    SC = fraction of samples whose  sum_j exp(z_j - max_k z_k) == 1  exactly, in `dtype` (float32 by default),

and the fraction of samples whose computed cross-entropy is exactly 0 (`zero_loss_fraction`). Both are
pure functions of logits, so they work on any checkpoint's training logits. Training logs SC of the
training predictions in every metrics row as `train_softmax_collapse` (float32, as their default).
"""

from __future__ import annotations

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor


def collapsed_rows(logits: Float[Tensor, "batch classes"],
                   dtype: torch.dtype = torch.float32) -> Bool[Tensor, " batch"]:
    """Rows whose shifted exponentials sum to exactly 1 in `dtype` (every other class absorbed); vmappable."""
    z = logits.to(dtype)
    return torch.exp(z - z.amax(dim=-1, keepdim=True)).sum(dim=-1) == 1


def softmax_collapse(logits: Float[Tensor, "batch classes"], dtype: torch.dtype = torch.float32) -> float:
    """SC: the fraction of `collapsed_rows`."""
    return float(collapsed_rows(logits, dtype).to(torch.float64).mean())


def zero_loss_fraction(logits: Float[Tensor, "batch classes"], labels: Int[Tensor, " batch"],
                       dtype: torch.dtype = torch.float32) -> float:
    """Fraction of rows whose cross-entropy, computed with log-softmax in `dtype`, is exactly 0."""
    logp = torch.log_softmax(logits.to(dtype), dim=-1)
    return float((logp.gather(-1, labels[:, None])[:, 0] == 0).to(torch.float64).mean())
