"""Digit addition (grokinterp.tasks.digits): the layout checked against an oracle."""

from __future__ import annotations

import torch

from grokinterp.tasks import make_task
from grokinterp.tasks.digits import addition_examples
from tests.helpers import task_cfg


def test_digit_addition_layout():
    a, b = torch.tensor([99999, 12345, 0]), torch.tensor([1, 54321, 7])
    tokens, labels = addition_examples(a, b, 5)
    assert tokens[0].tolist() == [9, 9, 9, 9, 9, 10, 0, 0, 0, 0, 1, 11, 1, 0, 0, 0, 0, 0]
    assert labels[1].tolist() == [0, 6, 6, 6, 6, 6] and labels[2].tolist() == [0, 0, 0, 0, 0, 7]
    task = make_task(task_cfg(family="digits", n_digits=5, n_train=50, n_test=30).task)
    assert task.n_ctx == 18 and task.d_vocab == 12 and task.d_vocab_out == 10 and task.per_position
    assert task.answer_pos == (11, 12, 13, 14, 15, 16)
    # the answer at position p is the token at p + 1
    assert torch.equal(task.tokens[:, 12:18], task.labels)
    digits = task.tokens[:, :5], task.tokens[:, 6:11]
    value = [sum(int(d) * 10 ** (4 - i) for i, d in enumerate(row)) for row in torch.cat(digits, 1).view(-1, 5)]
    sums = [value[2 * i] + value[2 * i + 1] for i in range(len(task.tokens))]
    assert sums == [int("".join(map(str, row.tolist()))) for row in task.labels]
    assert len(task.train_idx) == 50 and len(task.test_idx) == 30 and task.sampler is None
