"""Nanda 2022's phase-change presets as users run them: 5-digit addition on fresh batches finishes every
digit with a transition of its own; the max-element task trains; the 512-sequence spec is Nanda's run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grokinterp import load_run, progress
from grokinterp.presets import get_preset
from grokinterp.report.sections import ReportContext
from grokinterp.report.sections.sampled import head_scores_over_training, max_heads_over_training, top_head_attention
from grokinterp.sweep import expand, load_spec
from grokinterp.train import train

SWEEP_SPECS = Path(__file__).resolve().parent.parent / "configs" / "sweeps"


@pytest.fixture(scope="module")
def add5(tmp_path_factory):
    path = tmp_path_factory.mktemp("add5") / "run"
    # the preset itself, cut to 1,200 of its 8,000 steps: seed 0 is the init that left c4 at chance (ln 10)
    # for the whole budget at weight decay 1
    cfg = get_preset("add5-infinite").with_overrides({"train.steps": 1200, "train.ckpt_every": 400,
                                                      "task.n_test": 500})
    train(cfg, path, progress=False)
    return load_run(path)


def test_every_digit_of_add5_leaves_chance_in_a_transition_of_its_own(add5):
    last = add5.metrics[-1]["test_loss_pos"]
    assert len(last) == 6
    assert max(last) < 0.5  # ln 10 = 2.30 is chance; at the full budget every digit ends below 0.06
    changes = progress.phase_changes(add5)
    assert all(t is not None and t.after < 0.3 * t.before for t in changes.per_position)
    steps = sorted(t.step for t in changes.per_position)
    assert steps[0] < 200 < steps[-1]  # the carry-out goes first, the later digits hundreds of steps after


def test_max_element_task_trains_to_its_answer(tmp_path):
    cfg = get_preset("max").with_overrides({"train.steps": 300, "train.ckpt_every": 100})
    assert (cfg.task.op, cfg.task.seq_len, cfg.task.mode) == ("max", 10, "finite")
    train(cfg, tmp_path / "run", progress=False)
    run = load_run(tmp_path / "run")
    last = run.metrics[-1]
    assert last["train_acc"] == 1.0 and last["test_acc"] > 0.9  # majority answer (the top token) is ~25%
    # the report finds the head that attends to the largest token (uniform attention would give ~0.1)
    ctx = ReportContext(run, steps=[])
    assert head_scores_over_training(ctx) == [] and top_head_attention(ctx) == []  # no induction sections
    (section,) = max_heads_over_training(ctx)
    best = float(re.search(r"puts (\d\.\d+) of its attention", section.text).group(1))
    assert best > 0.5


def test_the_512_sequence_spec_is_nandas_finite_run():
    runs = expand(load_spec(SWEEP_SPECS / "repeat-subseq-512.toml"))
    assert len(runs) == 3
    assert sorted(r.config.model.seed for r in runs) == [0, 1, 2]
    for r in runs:
        cfg = r.config
        assert cfg.preset == "repeat-subseq-512" and cfg.task.n_train == 512 and cfg.task.mode == "finite"
        assert cfg.train.weight_decay == 1.0 and cfg.train.batch_size == 128
        assert cfg.train.steps > 198_000  # past the step where his run generalised
