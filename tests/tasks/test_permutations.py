"""Permutation-group tasks (grokinterp.tasks.permutations): the data layout, the S5 preset, and the answers
against the group operations."""

from __future__ import annotations

import math

import pytest
import torch

from grokinterp.analysis import groups as G
from grokinterp.config import RunConfig
from grokinterp.presets import get_preset
from grokinterp.tasks import make_task
from grokinterp.tasks.permutations import answers


@pytest.mark.parametrize("op", ["compose", "conj", "aba"])
@pytest.mark.parametrize("n", [3, 4, 5])
def test_permutation_task_layout(op, n):
    cfg = RunConfig().with_overrides({"task.family": "permutation", "task.op": op, "task.n": n,
                                      "task.frac_train": 0.5}).task
    task = make_task(cfg)
    size = math.factorial(n)
    assert task.tokens.shape == (size * size, 3) and task.d_vocab == task.d_vocab_out == size + 1
    assert bool((task.tokens[:, 2] == size).all())
    els = G.elements(n)
    for i in (0, 7, size * size - 1):
        x, y = els[int(task.tokens[i, 0])], els[int(task.tokens[i, 1])]
        want = {"compose": G.compose(x, y), "conj": G.compose(G.compose(x, y), G.inverse(x)),
                "aba": G.compose(G.compose(x, y), x)}[op]
        assert els[int(task.labels[i, 0])] == want
        assert int(task.tokens[i, 0]) * size + int(task.tokens[i, 1]) == i
    assert len(task.train_idx) == int(0.5 * size * size)
    assert cfg.describe().endswith(f"in S{n}") and cfg.n_answers == size


def test_s5_preset_is_power_et_al_s5_composition():
    cfg = get_preset("s5")
    assert (cfg.task.family, cfg.task.op, cfg.task.n) == ("permutation", "compose", 5)
    task = make_task(cfg.task)
    assert task.tokens.shape == (14400, 3) and task.d_vocab == 121


def test_answers_match_the_group_operations():
    n = 3
    els = G.elements(n)
    for op, f in [("compose", lambda x, y: G.compose(x, y)),
                  ("conj", lambda x, y: G.compose(G.compose(x, y), G.inverse(x))),
                  ("aba", lambda x, y: G.compose(G.compose(x, y), x))]:
        a = answers(op, n)
        assert all(els[a[i, j]] == f(els[i], els[j]) for i in range(6) for j in range(6))
        # every answer has exactly n! pairs (the projection averages over them)
        assert torch.bincount(torch.from_numpy(a.reshape(-1))).tolist() == [math.factorial(n)] * 6
