"""The training loop (grokinterp.train.loop): the checkpoint schedule, the lr warmup, and flushing denormals
only while training."""

from __future__ import annotations

import pytest

from grokinterp.presets import get_preset
from grokinterp.train.loop import checkpoint_schedule, lr_at
from tests.helpers import tiny


def test_checkpoint_schedule_dense_early_then_linear():
    s = checkpoint_schedule(1000, 100, 20)
    assert s[0] == 0 and s[-1] == 1000
    assert s == sorted(set(s))
    early = [x for x in s if 0 < x < 100]
    assert len(early) >= 12  # log-spaced points resolve memorisation
    assert all(x in s for x in range(100, 1001, 100))
    assert checkpoint_schedule(250, 100, 0) == [0, 100, 200, 250]


def test_lr_warmup_starts_at_zero():
    cfg = tiny()
    assert lr_at(cfg, 0) == 0.0
    assert lr_at(cfg, 5) == pytest.approx(cfg.train.lr / 2)
    assert lr_at(cfg, 10) == lr_at(cfg, 500) == cfg.train.lr


def test_flush_denormal_is_on_only_while_training(tmp_path, monkeypatch):
    import torch

    from grokinterp.train import train

    calls = []
    real = torch.set_flush_denormal
    monkeypatch.setattr(torch, "set_flush_denormal", lambda on: calls.append(on) or real(on))
    cfg = get_preset("digits-omnigrok").with_overrides({"train.steps": 3, "train.flush_denormal": True,
                                                        "task.n_test": 50})
    train(cfg, tmp_path / "run", progress=False)
    assert calls == [True, False]
    assert torch.tensor(1e-39, dtype=torch.float32).item() != 0  # subnormals are back after training


def test_the_schedule_is_a_function_of_the_step_not_a_set_of_every_step():
    """A billion-step schedule is built at once and holds only its log-spaced steps (a set of every step once
    grew to 8 GB for train.steps=1e30)."""
    from grokinterp.train.loop import CheckpointSchedule

    s = CheckpointSchedule(10**9, 10**4, 20)
    assert len(s.log_steps) <= 20
    assert 0 in s and 10**9 in s and 5 * 10**4 in s and 1 in s
    assert 10**9 - 1 not in s and 10**9 + 10**4 not in s and -10**4 not in s
    small = CheckpointSchedule(250, 100, 4)  # log points 1, 5, 22, 100
    assert [x for x in range(-5, 300) if x in small] == checkpoint_schedule(250, 100, 4) == [0, 1, 5, 22, 100, 200, 250]
