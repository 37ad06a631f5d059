"""End to end: tiny models trained until they grok (the session runs of tests/conftest.py and a parity
network). Their assertions are the robust outcomes (it groks within a generous budget, memorisation comes
first, the test loss comes down after its peak), not step numbers of one CPU."""

from __future__ import annotations

import pytest

from grokinterp.presets import get_preset

pytestmark = pytest.mark.e2e


def test_tiny_model_groks(grokked_run):
    """End to end: memorises first, generalises much later, and cleans up after."""
    rows = grokked_run.metrics
    memorised = next(r["step"] for r in rows if r["train_acc"] >= 0.99)
    grokked = next((r["step"] for r in rows if r["test_acc"] >= 0.99), None)
    assert grokked is not None, rows[-1]
    assert grokked > 5 * memorised  # the delay that makes it grokking
    at_memorised = next(r for r in rows if r["step"] == memorised)
    assert at_memorised["test_acc"] < 0.5
    # test loss rises above its initial value while train loss falls, then comes down
    test_losses = [r["test_loss"] for r in rows]
    assert max(test_losses) > test_losses[0] > 30 * test_losses[-1]


def test_a_small_parity_network_memorises_first_and_groks_later(tmp_path):
    """The parity preset's recipe at width 128 (biases on): train accuracy reaches 99% first, test accuracy 99%
    much later (8,600 steps on the machine that wrote this test), within a generous budget."""
    from grokinterp import load_run
    from grokinterp.analysis.regimes import regime_of
    from grokinterp.train import train

    cfg = get_preset("parity").with_overrides({"model.d_mlp": 128, "model.biases": "all", "train.steps": 16_000,
                                               "train.ckpt_every": 1000, "train.device": "cpu"})
    result = train(cfg, tmp_path / "p", stop_when_grokked=True, progress=False)
    rows = load_run(tmp_path / "p").metrics
    regime = regime_of([r["train_acc"] for r in rows], [r["test_acc"] for r in rows], [r["step"] for r in rows],
                     threshold=0.99)
    assert result.grokked_step is not None
    assert regime.regime == "grokking"  # memorisation first, generalisation more than 1,000 steps later
    assert regime.test_step >= 3 * regime.train_step
