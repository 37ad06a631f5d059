"""What the tasks share (grokinterp.tasks.base): the seeded split, and Power et al.'s equation format."""

from __future__ import annotations

import pytest
import torch

from grokinterp.presets import get_preset
from grokinterp.tasks import make_task, split_indices
from tests.helpers import power_small


@pytest.mark.parametrize(("n", "frac"), [(49, 0.3), (110, 0.5), (121, 0.95), (10, 0.05)])
def test_split_partition_and_sizes(n, frac):
    tr, te = split_indices(n, frac, seed=0)
    assert len(tr) == int(frac * n) and len(te) == n - int(frac * n)
    assert set(tr.tolist()).isdisjoint(te.tolist())
    assert sorted(tr.tolist() + te.tolist()) == list(range(n))
    tr2, te2 = split_indices(n, frac, seed=0)
    assert torch.equal(tr, tr2) and torch.equal(te, te2)


def test_split_depends_on_seed_only():
    tr0, _ = split_indices(121, 0.3, seed=0)
    torch.manual_seed(123)  # the global RNG must not matter
    tr0b, _ = split_indices(121, 0.3, seed=0)
    tr1, _ = split_indices(121, 0.3, seed=1)
    assert torch.equal(tr0, tr0b)
    assert set(tr0.tolist()) != set(tr1.tolist())
    # a random split, not a prefix of range(n)
    assert sorted(tr0.tolist()) != list(range(len(tr0)))


def test_power_format_writes_their_equations_on_the_same_split():
    pair = make_task(power_small(**{"task.format": "pair"}).task)
    eq = make_task(power_small().task)
    p = 13
    assert eq.tokens.shape == (len(pair.tokens), 6) and eq.answer_pos == (4, 5)
    assert eq.d_vocab == eq.d_vocab_out == p + 3
    assert torch.equal(eq.tokens[:, 1], pair.tokens[:, 0]) and torch.equal(eq.tokens[:, 3], pair.tokens[:, 1])
    assert torch.all(eq.tokens[:, 0] == p + 2) and torch.all(eq.tokens[:, 2] == p + 1)
    assert torch.all(eq.tokens[:, 4] == p)
    assert torch.equal(eq.tokens[:, 5], pair.labels[:, 0])  # teacher-forced answer predicts the closing <eos>
    assert torch.equal(eq.labels, torch.stack([pair.labels[:, 0], torch.full_like(pair.labels[:, 0], p + 2)], 1))
    assert torch.equal(eq.train_idx, pair.train_idx)
    s5 = make_task(get_preset("power-compose").task)
    assert s5.tokens.shape == (14400, 6) and s5.d_vocab == 123
