"""Digit addition and sequence tasks: layouts checked against an oracle, finite/infinite modes, masked
labels, resume of infinite-mode training, per-digit metrics."""

from __future__ import annotations

import pytest
import torch

from grokinterp import load_run, progress
from grokinterp.config import ConfigError, RunConfig
from grokinterp.scoring import accuracy, answer_loss
from grokinterp.tasks import make_task
from grokinterp.tasks.digits import addition_examples
from grokinterp.tasks.sequences import repeat_examples
from grokinterp.train import train


def _task_cfg(**kw):
    return RunConfig().with_overrides({f"task.{k}": v for k, v in kw.items()}
                                      | ({"train.batch_size": 16} if kw.get("mode") == "infinite" else {}))


def test_digit_addition_layout():
    a, b = torch.tensor([99999, 12345, 0]), torch.tensor([1, 54321, 7])
    tokens, labels = addition_examples(a, b, 5)
    assert tokens[0].tolist() == [9, 9, 9, 9, 9, 10, 0, 0, 0, 0, 1, 11, 1, 0, 0, 0, 0, 0]
    assert labels[1].tolist() == [0, 6, 6, 6, 6, 6] and labels[2].tolist() == [0, 0, 0, 0, 0, 7]
    task = make_task(_task_cfg(family="digits", n_digits=5, n_train=50, n_test=30).task)
    assert task.n_ctx == 18 and task.d_vocab == 12 and task.d_vocab_out == 10 and task.per_position
    assert task.answer_pos == (11, 12, 13, 14, 15, 16)
    # the answer at position p is the token at p + 1
    assert torch.equal(task.tokens[:, 12:18], task.labels)
    digits = task.tokens[:, :5], task.tokens[:, 6:11]
    value = [sum(int(d) * 10 ** (4 - i) for i, d in enumerate(row)) for row in torch.cat(digits, 1).view(-1, 5)]
    sums = [value[2 * i] + value[2 * i + 1] for i in range(len(task.tokens))]
    assert sums == [int("".join(map(str, row.tolist()))) for row in task.labels]
    assert len(task.train_idx) == 50 and len(task.test_idx) == 30 and task.sampler is None


def test_repeated_subsequence_layout():
    cfg = _task_cfg(family="sequences", op="repeat", seq_len=40, subseq_len=5, n_repeats=3, vocab=20,
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
    ours = repeat_examples(200, _task_cfg(**kw).task, torch.Generator().manual_seed(0))
    nanda = repeat_examples(200, _task_cfg(**kw, score_first_tokens=True).task, torch.Generator().manual_seed(0))
    assert torch.equal(ours[0], nanda[0])  # the same sequences
    added = (nanda[1] >= 0) & (ours[1] < 0)
    assert bool(((ours[1] >= 0) <= (nanda[1] >= 0)).all())  # every scored position stays scored
    assert bool((added.sum(1) == 2).all())  # one more per later copy: 2 x 5 scored tokens
    rows, cols = added.nonzero(as_tuple=True)
    assert torch.equal(nanda[1][rows, cols], nanda[0][rows, cols + 1])
    assert bool((ours[1][rows, cols + 1] >= 0).all())  # the copy's second token follows, scored in both


def test_max_task_and_infinite_mode_are_deterministic():
    cfg = _task_cfg(family="sequences", op="max", mode="infinite", seq_len=7, vocab=30, n_test=20).task
    task = make_task(cfg)
    assert task.tokens.shape == (20, 8) and bool((task.tokens[:, -1] == 30).all())
    assert torch.equal(task.labels[:, 0], task.tokens[:, :7].max(1).values)
    assert len(task.train_idx) == 0 and task.sampler is not None
    x1, y1 = task.sampler(5, 16)
    x2, y2 = make_task(cfg).sampler(5, 16)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(task.sampler(6, 16)[0], x1)
    assert not any(torch.equal(row, t) for row in x1 for t in task.tokens)  # batches are not the test set


@pytest.mark.parametrize("override, needle", [
    ({"task.mode": "infinite"}, "train.batch_size >= 1"),
    ({"task.mode": "forever"}, "task.mode"),
    ({"task.op": "repeat", "task.seq_len": 10, "task.subseq_len": 4}, "cannot hold 3 copies"),
    ({"task.op": "sort"}, "unknown sequences operation"),
])
def test_sampled_config_errors(override, needle):
    with pytest.raises(ConfigError, match=needle):
        RunConfig().with_overrides({"task.family": "sequences", "task.op": "max", **override})


def test_masked_loss_and_accuracy():
    logits = torch.log(torch.tensor([[[0.5, 0.5], [0.9, 0.1]], [[0.2, 0.8], [0.5, 0.5]]]))
    labels = torch.tensor([[-1, 0], [1, -1]])
    assert answer_loss(logits, labels).item() == pytest.approx(-(torch.log(torch.tensor(0.9 * 0.8)) / 2).item())
    assert accuracy(logits, labels) == 1.0


TINY_INF = {"task.family": "digits", "task.mode": "infinite", "task.n_digits": 3, "task.n_test": 64,
            "model.d_model": 32, "model.d_head": 8, "model.d_mlp": 64, "train.batch_size": 32,
            "train.ckpt_every": 10, "train.ckpt_log_points": 0, "train.log_every": 5, "train.device": "cpu"}


def test_infinite_mode_resume_is_bitwise_identical(tmp_path, threads):
    full = RunConfig().with_overrides({**TINY_INF, "train.steps": 30})
    train(full, tmp_path / "a", progress=False)
    train(RunConfig().with_overrides({**TINY_INF, "train.steps": 20}), tmp_path / "b", progress=False)
    train(full, tmp_path / "b", progress=False)  # resume to 30
    a, b = load_run(tmp_path / "a"), load_run(tmp_path / "b")
    for name, t in a.state_dict().items():
        assert torch.equal(t, b.state_dict()[name]), name
    assert a.metrics == [{**r, "wall_time": a.metrics[i]["wall_time"]} for i, r in enumerate(b.metrics)]
    row = a.metrics[-1]
    assert len(row["test_loss_pos"]) == 4 and len(row["train_acc_pos"]) == 4 and 0 <= row["test_token_acc"] <= 1
    changes = progress.phases(a)
    assert isinstance(changes, progress.PhaseChanges) and len(changes.per_position) == 4


def test_token_accuracy_counts_scored_positions():
    from grokinterp.scoring import token_accuracy

    logits = torch.log(torch.tensor([[[0.9, 0.1], [0.9, 0.1], [0.2, 0.8]]]))
    assert token_accuracy(logits, torch.tensor([[0, 1, -1]])) == 0.5
    assert token_accuracy(logits, torch.tensor([[-1, -1, 1]])) == 1.0
