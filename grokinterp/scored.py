"""Predictions at the scored entries only: the (example, answer position) pairs whose label is not -1.

Sequence tasks read the model at many positions but score few of them (repeat-subseq: 30 of 84 per
sequence), so the training step and its metrics unembed, log-softmax and compare only those rows. The
loss is the same number as `engine.answer_loss` / `engine.mse_loss` on the full logits (the mean over
scored entries), the accuracies the same as `engine.accuracy` / `engine.token_accuracy`: only the
float summation order differs. `Scored` needs data-dependent shapes, so model batches (`torch.func.vmap`
in `grokinterp.batched`) keep the full-logit functions of `grokinterp.engine`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from grokinterp import engine
from grokinterp.config import ModelConfig
from grokinterp.power import power_resid


@dataclass
class Scored:
    """Logits and labels of the scored entries, in row-major (example, position) order."""

    logits: Float[Tensor, "n_scored d_vocab_out"]
    labels: Int[Tensor, " n_scored"]
    rows: Int[Tensor, " n_scored"] | None  # flat index example * n_answer + position; None: every entry scored
    batch: int
    n_answer: int
    targets: Float[Tensor, "n_scored d_vocab_out"] | None = None  # regression: the target of each entry
    tolerance: float = 1e-3  # regression: an entry is right when its mean squared error is below this

    def with_targets(self, targets: Float[Tensor, "n_scored d_vocab_out"], tolerance: float) -> Scored:
        """The same predictions scored by regression against `targets` (Omnigrok's teacher-student task)."""
        return dataclasses.replace(self, targets=targets, tolerance=tolerance)

    def squared_errors(self) -> Float[Tensor, " n_scored"]:
        """Regression: each entry's squared error averaged over the outputs, in float64."""
        return (self.logits.to(torch.float64) - self.targets.to(torch.float64)).pow(2).mean(dim=-1)

    @classmethod
    def from_logits(cls, logits: Float[Tensor, "batch n_answer d_vocab_out"],
                    labels: Int[Tensor, "batch n_answer"]) -> Scored:
        return cls(*select(logits, labels), *labels.shape)

    def detach(self) -> Scored:
        return dataclasses.replace(self, logits=self.logits.detach())

    def nll(self) -> Float[Tensor, " n_scored"]:
        """Cross-entropy of each scored entry, the log-softmax in float64 (see `engine.answer_loss`)."""
        logp = self.logits.to(torch.float64).log_softmax(dim=-1)
        return -logp.gather(-1, self.labels[:, None])[:, 0]

    def loss(self, kind: str = "ce") -> Float[Tensor, ""]:
        """`engine.task_loss` over the scored entries: their mean cross-entropy ("ce") or squared error
        against one-hot targets ("mse"); with regression targets, the mean of `squared_errors` (nn.MSELoss)."""
        if self.targets is not None:
            return self.squared_errors().mean()
        return engine.task_loss(self.logits[:, None], self.labels[:, None], kind)

    def right(self) -> Tensor:
        if self.targets is not None:
            return self.squared_errors() < self.tolerance
        return self.logits.argmax(dim=-1) == self.labels

    def accuracy(self) -> float:
        """Fraction of examples whose every scored entry is predicted exactly (no scored entry: right)."""
        wrong = ~self.right()
        if self.rows is None:
            wrong_examples = wrong.view(self.batch, self.n_answer).any(dim=1).sum().item()
        else:
            wrong_examples = torch.unique(self.rows[wrong] // self.n_answer).numel()
        return 1.0 - wrong_examples / max(self.batch, 1)

    def token_accuracy(self) -> float:
        """Fraction of scored entries predicted exactly (`engine.token_accuracy`)."""
        if self.targets is not None:
            return float(self.right().to(torch.float64).mean())
        return engine.token_accuracy(self.logits[:, None], self.labels[:, None])

    def position_losses(self) -> tuple[list[float], list[float]]:
        """Per answer position: mean cross-entropy and accuracy over the examples where it is scored."""
        pos = (torch.arange(self.labels.numel(), device=self.labels.device) if self.rows is None
               else self.rows) % self.n_answer
        n = torch.bincount(pos, minlength=self.n_answer).clamp(min=1).to(torch.float64)
        nll = torch.bincount(pos, weights=self.nll(), minlength=self.n_answer) / n
        right = torch.bincount(pos, weights=self.right().to(torch.float64), minlength=self.n_answer) / n
        return nll.tolist(), right.tolist()


def scored_rows(labels: Int[Tensor, "batch n_answer"]) -> Int[Tensor, " n_scored"] | None:
    """Flat indices of the scored entries, or None when every entry is scored."""
    scored = labels.reshape(-1) >= 0
    return None if bool(scored.all()) else scored.nonzero()[:, 0]


def select(x: Float[Tensor, "batch n_answer d"], labels: Int[Tensor, "batch n_answer"]
           ) -> tuple[Float[Tensor, "n_scored d"], Int[Tensor, " n_scored"], Int[Tensor, " n_scored"] | None]:
    """The scored rows of `x`, their labels and flat indices (None: all rows)."""
    rows = scored_rows(labels)
    flat, flat_labels = x.reshape(-1, x.shape[-1]), labels.reshape(-1)
    if rows is None:
        return flat, flat_labels, None
    # index_select's backward adds each row once into zeros: deterministic (unlike indexing's index_put)
    return flat.index_select(0, rows), flat_labels.index_select(0, rows), rows


def fused_scored(params: dict[str, Tensor], cfg: ModelConfig, tokens: Tensor, answer_pos: tuple[int, ...],
                 labels: Int[Tensor, "batch n_answer"], dropout_generator: torch.Generator | None = None) -> Scored:
    """`Scored` from the fused engine, unembedding only the scored rows of the final residual stream.
    `dropout_generator`: a training forward of Power et al.'s model, with dropout masks drawn from it."""
    if cfg.arch == "power":
        resid = power_resid(params, cfg, tokens, answer_pos, dropout_generator=dropout_generator)
    elif cfg.arch != "transformer":
        return Scored.from_logits(engine.fused_logits(params, cfg, tokens, answer_pos), labels)
    else:
        resid = engine.fused_resid(params, cfg, tokens, answer_pos)
    resid, labels_s, rows = select(resid, labels)
    return Scored(engine.unembed(params, resid), labels_s, rows, *labels.shape)
