"""Modular arithmetic tasks (grokinterp.tasks.modular): labels against a Python-int oracle, enumeration order,
the task's fields, validation."""

from __future__ import annotations

import pytest
import torch

from grokinterp.config import ConfigError, TaskConfig
from grokinterp.tasks import make_task, modular_pairs, split_indices
from grokinterp.tasks.modular import MODULAR_OPS


def oracle(op: str, x: int, y: int, p: int) -> int:
    """op(x, y) mod p with Python ints; division by Fermat inverse (p prime)."""
    def div() -> int:
        inv = 1
        for _ in range(p - 2):  # y^(p-2) by repeated multiplication, independent of pow()
            inv = inv * y % p
        assert inv * y % p == 1
        return x * inv % p

    if op == "add":
        return (x + y) % p
    if op == "sub":
        return (x - y) % p
    if op == "mul":
        return x * y % p
    if op == "div":
        return div()
    if op == "odd_div":
        return div() if y % 2 == 1 else (x - y) % p
    if op == "x2_y2":
        return (x**2 + y**2) % p
    if op == "x2_xy_y2":
        return (x**2 + x * y + y**2) % p
    if op == "x2_xy_y2_x":
        return (x**2 + x * y + y**2 + x) % p
    if op == "x3_xy":
        return (x**3 + x * y) % p
    if op == "x3_xy2_y":
        return (x**3 + x * y**2 + y) % p
    raise AssertionError(f"oracle lacks op {op}")


@pytest.mark.parametrize("p", [7, 11])
@pytest.mark.parametrize("op", list(MODULAR_OPS))
def test_modular_pairs_match_oracle(op, p):
    tokens, labels = modular_pairs(op, p)
    expected_pairs = [(x, y) for x in range(p) for y in range(p) if not (op == "div" and y == 0)]
    assert len(expected_pairs) == (p * (p - 1) if op == "div" else p * p)
    assert tokens.shape == (len(expected_pairs), 3)
    assert labels.shape == (len(expected_pairs),)
    assert tokens.dtype == torch.long and labels.dtype == torch.long
    assert tokens.tolist() == [[x, y, p] for x, y in expected_pairs]
    assert labels.tolist() == [oracle(op, x, y, p) for x, y in expected_pairs]


@pytest.mark.parametrize("p", [7, 11])
def test_div_inverts_mul_and_odd_div_branches(p):
    # planted structure: (x*y)/y == x for y != 0
    _, mul = modular_pairs("mul", p)
    _, div = modular_pairs("div", p)
    mul_grid = mul.reshape(p, p)
    tokens_div, _ = modular_pairs("div", p)
    for (a, b, _), q in zip(tokens_div.tolist(), div.tolist()):
        assert mul_grid[q, b].item() == a  # q * b == a  (mod p)
    _, odd = modular_pairs("odd_div", p)
    _, sub = modular_pairs("sub", p)
    odd, sub = odd.reshape(p, p), sub.reshape(p, p)
    div_full = torch.cat([torch.full((p, 1), -1), div.reshape(p, p - 1)], dim=1)  # re-insert the b=0 column
    b = torch.arange(p)
    assert torch.equal(odd[:, b % 2 == 1], div_full[:, b % 2 == 1])
    assert torch.equal(odd[:, b % 2 == 0], sub[:, b % 2 == 0])


@pytest.mark.parametrize("op", ["add", "div", "x3_xy2_y"])
def test_make_task_fields(op):
    cfg = TaskConfig(op=op, p=11, frac_train=0.4, seed=5)
    task = make_task(cfg)
    tokens, labels = modular_pairs(op, 11)
    assert torch.equal(task.tokens, tokens)
    assert torch.equal(task.labels, labels[:, None])
    assert task.answer_pos == (2,)
    assert task.d_vocab == task.d_vocab_out == 12
    assert task.n_ctx == 3 == task.tokens.shape[1]
    assert int(task.tokens.max()) < task.d_vocab and int(task.labels.max()) < task.d_vocab_out
    tr, te = split_indices(len(tokens), 0.4, 5)
    assert torch.equal(task.train_idx, tr) and torch.equal(task.test_idx, te)
    other = task.with_split(te, tr)
    assert torch.equal(other.train_idx, te) and torch.equal(other.tokens, task.tokens)


def test_make_task_validates():
    with pytest.raises(ConfigError):
        make_task(TaskConfig(op="div", p=12))
