"""Weight-norm decay (grokinterp.analysis.normdecay): a planted norm trajectory, and a real run at large init."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grokinterp.analysis.normdecay import fit_norm_decay


def planted(gamma: float = 2e-3):
    """The norm grows while the model memorises (to step 200), decays as exp(-gamma t) once it has (train
    accuracy 1 from step 200), and stays put once it generalises (test accuracy 0.95 from step 1500)."""
    t = np.arange(0, 3001, 10, dtype=np.float64)
    w = np.where(t <= 200, 20 + 0.05 * t, 30 * np.exp(-gamma * (t - 200)))
    w = np.where(t >= 1500, 30 * np.exp(-gamma * 1300), w)
    train_acc = np.where(t >= 200, 1.0, t / 400)
    test_acc = np.where(t >= 1500, 0.95, 0.1)
    return t, w, train_acc, test_acc


def test_a_planted_decay_is_recovered_between_memorisation_and_generalisation():
    t, w, tr, te = planted(2e-3)
    fit = fit_norm_decay(t, w, tr, te, lr_wd=1e-3 * 2.0)
    assert (fit.start, fit.end) == (200, 1500)
    assert fit.gamma == pytest.approx(2e-3, rel=1e-9) and fit.r2 == pytest.approx(1.0)
    assert fit.predicted == pytest.approx(-math.log(1 - 2e-3)) and fit.ratio == pytest.approx(1.0, abs=2e-3)
    assert fit.gamma_before < 0  # the norm grew while the model memorised
    assert fit.gamma_after == pytest.approx(0.0, abs=1e-12)  # and stopped once it generalised
    np.testing.assert_allclose(fit.line([200, 1000]), w[[20, 100]], rtol=1e-9)


def test_no_fit_before_the_training_set_is_fit():
    t, w, tr, te = planted()
    assert fit_norm_decay(t, w, tr * 0.5, te, lr_wd=1e-3) is None


def test_a_large_init_digits_run_decays_at_about_lr_times_wd(tmp_path):
    """Omnigrok's claim 3 on a real run: the MLP at init x8 memorises the digits while the norm falls at the
    rate lr * wd sets (measured: 0.95 lr wd; Adam's own steps slow it a little)."""
    from grokinterp import load_run
    from grokinterp.presets import get_preset
    from grokinterp.train import train

    cfg = get_preset("digits-omnigrok").with_overrides({"train.steps": 800, "train.lr": 3e-3, "task.n_test": 300,
                                                        "train.weight_decay": 0.3, "train.ckpt_every": 800,
                                                        "train.ckpt_log_points": 0})
    train(cfg, tmp_path / "run", progress=False)
    rows = load_run(tmp_path / "run").metrics
    col = {k: np.array([r[k] for r in rows]) for k in ("step", "weight_norm", "train_acc", "test_acc")}
    fit = fit_norm_decay(col["step"], col["weight_norm"], col["train_acc"], col["test_acc"], 3e-3 * 0.3)
    assert fit is not None and fit.n_points >= 5 and fit.start > 300  # after memorisation
    assert 0.8 < fit.ratio < 1.1 and fit.r2 > 0.99
