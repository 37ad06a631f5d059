"""What the sampled task families share (grokinterp.tasks.sampled): deterministic infinite-mode batches, the
config errors, and the bitwise resume of infinite-mode training with its per-digit metrics."""

from __future__ import annotations

import pytest
import torch

from grokinterp import load_run, progress
from grokinterp.config import ConfigError, RunConfig
from grokinterp.tasks import make_task
from grokinterp.train import train
from tests.helpers import TINY_INF, task_cfg


def test_max_task_and_infinite_mode_are_deterministic():
    cfg = task_cfg(family="sequences", op="max", mode="infinite", seq_len=7, vocab=30, n_test=20).task
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
