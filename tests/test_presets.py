"""Presets as users run them: Nanda 2022's 5-digit addition on fresh batches finishes every digit with a
transition of its own, and the 512-sequence spec is his run; Power et al.'s presets use their optimiser."""

from __future__ import annotations

from pathlib import Path

import pytest

from grokinterp import load_run, progress
from grokinterp.presets import PRESETS, get_preset
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


def test_the_512_sequence_spec_is_nandas_finite_run():
    runs = expand(load_spec(SWEEP_SPECS / "repeat-subseq-512.toml"))
    assert len(runs) == 3
    assert sorted(r.config.model.seed for r in runs) == [0, 1, 2]
    for r in runs:
        cfg = r.config
        assert cfg.preset == "repeat-subseq-512" and cfg.task.n_train == 512 and cfg.task.mode == "finite"
        assert cfg.train.weight_decay == 1.0 and cfg.train.batch_size == 128
        assert cfg.train.steps > 198_000  # past the step where his run generalised
        assert cfg.train.no_decay == ("embed.weight", "pos_embed.weight") and cfg.task.score_first_tokens


def test_every_power_preset_validates_with_their_optimiser():
    names = [n for n in PRESETS if n.startswith("power-")]
    assert {"power-add", "power-sub", "power-div", "power-odd_div", "power-x2_y2", "power-x3_xy2_y",
            "power-compose", "power-conj", "power-aba"} <= set(names)
    for n in names:
        cfg = get_preset(n)
        assert cfg.model.arch == "power" and cfg.model.n_layers == 2 and cfg.train.steps == 100_000
        assert cfg.train.betas == (0.9, 0.98) and cfg.train.weight_decay == 1.0 and cfg.train.batch_size == -1
        assert getattr(cfg.task, "p", 97) == 97
