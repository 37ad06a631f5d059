"""Liu et al.'s toy addition task (grokinterp.tasks.addition): its pairs and covering split."""

from __future__ import annotations

import torch

from grokinterp.config import TaskConfig
from grokinterp.presets import get_preset
from grokinterp.tasks import make_task


def test_addition_task_pairs_and_covering_split():
    task = make_task(TaskConfig(family="addition", op="add", p=10, frac_train=0.8, seed=3))
    assert task.tokens.shape == (55, 3) and task.d_vocab_out == 19 and task.d_vocab == 11
    x, y = task.tokens[:, 0], task.tokens[:, 1]
    assert bool((x <= y).all()) and torch.equal(task.labels[:, 0], x + y) and bool((task.tokens[:, 2] == 10).all())
    assert len(task.train_idx) == 44 and len(task.test_idx) == 11
    assert set(task.labels[task.train_idx, 0].tolist()) == set(range(19))  # every sum seen in training
    assert set(task.train_idx.tolist()).isdisjoint(task.test_idx.tolist())
    other = make_task(TaskConfig(family="addition", op="add", p=10, frac_train=0.8, seed=4))
    assert not torch.equal(task.train_idx, other.train_idx)


def test_toy_add_trains_on_liu_et_al_s_45_of_55_pairs():
    from grokinterp.tasks import make_task

    task = make_task(get_preset("toy-add").task)
    assert (len(task.train_idx), len(task.test_idx)) == (45, 10)
