"""The one home of losses and metrics: what a run's logits (or predictions) score against its labels.

- `answer_loss`: the cross-entropy on the answer positions, the log-softmax in float64 (late in grokking the
  train loss is ~1e-7, below float32 resolution of log-probabilities near 0); `mse_loss` (squared error on
  one-hot targets, Omnigrok's MNIST loss); `stablemax_loss` (Prieto et al. 2025); `task_loss` picks one by
  `train.loss`. Label -1 marks an entry that is not scored.
- `accuracy` (every scored position of an example right), `token_accuracy`, `position_losses`;
  `record_metrics` writes them into a metrics row (`metrics.jsonl`) as training and importing log them.
- `Scored`: the predictions at the scored entries only (the (example, answer position) pairs whose label is not
  -1). Sequence tasks read the model at many positions but score few of them (repeat-subseq: 30 of 84 per
  sequence), so the training step and its metrics unembed, log-softmax and compare only those rows. Its loss
  is the same number as `answer_loss` / `mse_loss` on the full logits (the mean over scored entries), its
  accuracies the same as `accuracy` / `token_accuracy`: only the float summation order differs. `Scored` needs
  data-dependent shapes, so model batches (`torch.func.vmap` in `grokinterp.train.batched`) keep the
  full-logit functions. `grokinterp.models.fused_scored` builds one from a model's fused forward.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from jaxtyping import Float, Int
from torch import Tensor

from grokinterp.analysis.collapse import softmax_collapse

if TYPE_CHECKING:
    from grokinterp.config import RunConfig
    from grokinterp.tasks import Task


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
        """Cross-entropy of each scored entry, the log-softmax in float64 (see `answer_loss`)."""
        logp = self.logits.to(torch.float64).log_softmax(dim=-1)
        return -logp.gather(-1, self.labels[:, None])[:, 0]

    def loss(self, kind: str = "ce") -> Float[Tensor, ""]:
        """`task_loss` over the scored entries: their mean cross-entropy ("ce") or squared error
        against one-hot targets ("mse"); with regression targets, the mean of `squared_errors` (nn.MSELoss)."""
        if self.targets is not None:
            return self.squared_errors().mean()
        return task_loss(self.logits[:, None], self.labels[:, None], kind)

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
        """Fraction of scored entries predicted exactly (`token_accuracy`)."""
        if self.targets is not None:
            return float(self.right().to(torch.float64).mean())
        return token_accuracy(self.logits[:, None], self.labels[:, None])

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


def scored_index(labels: Int[Tensor, "batch n_answer"]) -> Int[Tensor, "batch k"] | None:
    """Where every example scores the same number k of its answer positions, and fewer than all: each example's
    scored answer positions (indices into its n_answer), ascending, so that `example * n_answer + index`
    runs through `scored_rows` in order. None otherwise. Repeat-subseq scores 30 of 84 tokens per sequence, at
    places that differ between sequences: a forward can then compute its last layer at those 30 only."""
    scored = labels >= 0
    counts = scored.sum(dim=1)
    if labels.shape[0] == 0 or bool(scored.all()) or bool((counts != counts[0]).any()) or int(counts[0]) == 0:
        return None
    return scored.nonzero()[:, 1].view(labels.shape[0], int(counts[0]))


def select(x: Float[Tensor, "batch n_answer d"], labels: Int[Tensor, "batch n_answer"]
           ) -> tuple[Float[Tensor, "n_scored d"], Int[Tensor, " n_scored"], Int[Tensor, " n_scored"] | None]:
    """The scored rows of `x`, their labels and flat indices (None: all rows)."""
    rows = scored_rows(labels)
    flat, flat_labels = x.reshape(-1, x.shape[-1]), labels.reshape(-1)
    if rows is None:
        return flat, flat_labels, None
    # index_select's backward adds each row once into zeros: deterministic (unlike indexing's index_put)
    return flat.index_select(0, rows), flat_labels.index_select(0, rows), rows


def record_metrics(cfg: RunConfig, task: Task, pred: Scored, row: dict, prefix: str,
                   loss: float | None = None) -> None:
    """Loss and accuracy of the predictions into the metrics row `row` as `{prefix}_loss`, `{prefix}_acc` (and per
    position)."""
    row[f"{prefix}_loss"] = pred.loss(cfg.train.loss).item() if loss is None else loss
    row[f"{prefix}_acc"] = pred.accuracy()
    if prefix == "train" and pred.targets is None:  # a regression has no softmax to collapse
        row["train_softmax_collapse"] = softmax_collapse(pred.logits.detach())
    if len(task.answer_pos) > 1:
        row[f"{prefix}_token_acc"] = pred.token_accuracy()
    if task.per_position:
        row[f"{prefix}_loss_pos"], row[f"{prefix}_acc_pos"] = pred.position_losses()
