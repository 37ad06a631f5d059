"""Sequence tasks (grokinterp.tasks.sequences): the repeated-subsequence layout and its scored positions."""

from __future__ import annotations

import torch

from grokinterp.tasks import make_task
from grokinterp.tasks.sequences import repeat_examples
from tests.helpers import task_cfg


def test_repeated_subsequence_layout():
    cfg = task_cfg(family="sequences", op="repeat", seq_len=40, subseq_len=5, n_repeats=3, vocab=20,
                   n_train=64, n_test=8).task
    gen = torch.Generator().manual_seed(0)
    tokens, labels = repeat_examples(200, cfg, gen)
    assert tokens.shape == (200, 40) and labels.shape == (200, 39)
    scored = labels >= 0
    assert bool((scored.sum(1) == 2 * 4).all())  # 2 later copies x (5 - 1) predictable tokens
    rows, cols = scored.nonzero(as_tuple=True)
    assert torch.equal(labels[rows, cols], tokens[rows, cols + 1])
    for i in range(20):  # every scored target repeats the token 1..3 copies earlier at the same offset
        pos = (cols[rows == i] + 1).tolist()
        first = tokens[i].tolist()
        assert any(first[p] == first[q] for p in pos[:4] for q in range(p))
    task = make_task(cfg)
    assert task.answer_pos == tuple(range(39)) and task.d_vocab == task.d_vocab_out == 20


def test_nandas_convention_also_scores_the_first_token_of_each_later_copy():
    kw = dict(family="sequences", op="repeat", seq_len=40, subseq_len=5, n_repeats=3, vocab=20, n_train=64, n_test=8)
    ours = repeat_examples(200, task_cfg(**kw).task, torch.Generator().manual_seed(0))
    nanda = repeat_examples(200, task_cfg(**kw, score_first_tokens=True).task, torch.Generator().manual_seed(0))
    assert torch.equal(ours[0], nanda[0])  # the same sequences
    added = (nanda[1] >= 0) & (ours[1] < 0)
    assert bool(((ours[1] >= 0) <= (nanda[1] >= 0)).all())  # every scored position stays scored
    assert bool((added.sum(1) == 2).all())  # one more per later copy: 2 x 5 scored tokens
    rows, cols = added.nonzero(as_tuple=True)
    assert torch.equal(nanda[1][rows, cols], nanda[0][rows, cols + 1])
    assert bool((ours[1][rows, cols + 1] >= 0).all())  # the copy's second token follows, scored in both
