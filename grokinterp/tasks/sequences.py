"""Sequence tasks with a phase change (Nanda 2022; Olsson et al. 2022): a repeated subsequence, solved by
induction heads, and the maximum of a sequence.

"repeat": `seq_len` uniform random tokens from `vocab` in which one random subsequence of `subseq_len`
tokens is written `n_repeats` times at random non-overlapping places (Nanda's run: 85, 16, 3, 128). The
model predicts every next token, but only the tokens of the second and later copies that can be predicted
are scored: all but the first token of each later copy (nothing announces where a copy starts). Nanda's
loss also counted those first tokens (`score_first_tokens = true`), which leaves a floor of 1/subseq_len *
ln(vocab) (0.30 for his 16 and 128); ours goes to 0. Unscored positions have label -1. Answer positions are
0 .. seq_len-2.

"max": `seq_len` random tokens followed by '=' (the token `vocab`); the answer, at '=', is the largest.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from grokinterp.errors import ConfigError
from grokinterp.tasks.base import Task
from grokinterp.tasks.registry import Family, check_op, register
from grokinterp.tasks.sampled import SampledSpec, make_sampled_task

SEQUENCE_OPS: dict[str, str] = {
    "repeat": "random tokens with one subsequence repeated; predict the later copies",
    "max": "random tokens; predict the largest",
}


@dataclass
class SequenceSpec(SampledSpec):
    """`op` "repeat" (a `subseq_len` subsequence repeated `n_repeats` times in `seq_len` random tokens from
    `vocab`) or "max" (the largest of `seq_len` random tokens)."""

    op: str = "repeat"
    seq_len: int = 85  # tokens per sequence
    vocab: int = 128  # token values 0..vocab-1
    subseq_len: int = 16  # repeat: length of the repeated subsequence
    n_repeats: int = 3  # repeat: copies of it
    score_first_tokens: bool = False  # repeat: also score the unpredictable first token of each later copy (Nanda)

    def validate(self) -> None:
        check_op(self, SEQUENCE_OPS)
        super().validate()
        if self.vocab < 2:
            raise ConfigError(f"task.vocab must be >= 2, got {self.vocab}")
        if self.op == "repeat":
            if self.subseq_len < 2 or self.n_repeats < 2:
                raise ConfigError(f"task.subseq_len and task.n_repeats must be >= 2, got {self.subseq_len} and "
                                  f"{self.n_repeats}")
            if self.subseq_len * self.n_repeats > self.seq_len:
                raise ConfigError(f"task.seq_len={self.seq_len} cannot hold {self.n_repeats} copies of "
                                  f"{self.subseq_len} tokens")
        elif self.seq_len < 1:
            raise ConfigError(f"task.seq_len must be >= 1, got {self.seq_len}")

    def describe(self) -> str:
        if self.op == "repeat":
            return (f"repeated subsequence: {self.n_repeats} x {self.subseq_len} tokens in {self.seq_len}, vocab "
                    f"{self.vocab} ({self.data_line()})")
        return f"max of {self.seq_len} tokens from {self.vocab} ({self.data_line()})"

    @property
    def n_answers(self) -> int:
        return self.vocab


def repeat_starts(count: int, seq_len: int, subseq_len: int, n_repeats: int, gen: torch.Generator) -> Tensor:
    """Start positions (count, n_repeats), increasing and non-overlapping, uniform over the arrangements:
    choose which n_repeats of the (seq_len - n_repeats*(subseq_len-1)) items are the copies."""
    n_items = seq_len - n_repeats * (subseq_len - 1)
    idx = torch.rand(count, n_items, generator=gen).argsort(dim=1)[:, :n_repeats].sort(dim=1).values
    return idx + (subseq_len - 1) * torch.arange(n_repeats)


def repeat_examples(count: int, cfg: SequenceSpec, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    L, m, r = cfg.seq_len, cfg.subseq_len, cfg.n_repeats
    tokens = torch.randint(0, cfg.vocab, (count, L), generator=gen)
    sub = torch.randint(0, cfg.vocab, (count, m), generator=gen)
    starts = repeat_starts(count, L, m, r, gen)
    pos = starts[:, :, None] + torch.arange(m)  # (count, r, m)
    rows = torch.arange(count)[:, None, None].expand_as(pos)
    tokens[rows, pos] = sub[:, None, :].expand_as(pos)
    labels = torch.full((count, L - 1), -1, dtype=torch.long)  # labels[i, j] = token j+1 if scored
    first = 0 if cfg.score_first_tokens else 1
    later = pos[:, 1:, first:]  # later copies (all but their first token, unless scored)
    labels[rows[:, 1:, first:], later - 1] = tokens[rows[:, 1:, first:], later]
    return tokens, labels


def make_sequence_task(cfg: SequenceSpec) -> Task:
    if cfg.op == "repeat":
        return make_sampled_task(cfg, lambda count, gen: repeat_examples(count, cfg, gen),
                                 answer_pos=tuple(range(cfg.seq_len - 1)), d_vocab=cfg.vocab, d_vocab_out=cfg.vocab,
                                 n_ctx=cfg.seq_len)

    def draw(count: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        x = torch.randint(0, cfg.vocab, (count, cfg.seq_len), generator=gen)
        tokens = torch.cat([x, torch.full((count, 1), cfg.vocab)], dim=1)
        return tokens, x.max(dim=1, keepdim=True).values

    return make_sampled_task(cfg, draw, answer_pos=(cfg.seq_len,), d_vocab=cfg.vocab + 1, d_vocab_out=cfg.vocab,
                             n_ctx=cfg.seq_len + 1)


register(Family("sequences", SequenceSpec, make_sequence_task, "sampled",
                "repeated subsequences (induction heads) and maxima, Nanda 2022 / Olsson et al. 2022"))
