"""The image MLP (grokinterp.models.image_mlp): it goes with image tasks only; Omnigrok's large init delays
generalisation on digits."""

from __future__ import annotations

import pytest

from grokinterp.config import ConfigError
from grokinterp.presets import get_preset


def test_image_arch_and_task_go_together():
    with pytest.raises(ConfigError, match="image-mlp"):
        get_preset("digits-omnigrok").with_overrides({"model.arch": "transformer"})
    with pytest.raises(ConfigError, match="image-mlp"):
        get_preset("mod113").with_overrides({"model.arch": "image-mlp"})


def test_large_init_delays_generalisation_on_digits(tmp_path):
    """Omnigrok's claim on the bundled digits: at init scale 1 the MLP generalises as it fits; at scale 8 it
    fits the 200 training images as fast but test accuracy lags far behind."""
    from grokinterp import load_run
    from grokinterp.train import train

    acc = {}
    for scale in (1.0, 8.0):
        cfg = get_preset("digits-omnigrok").with_overrides({"accel.init_scale": scale, "train.steps": 1500,
                                                            "train.device": "cpu", "train.ckpt_every": 500})
        train(cfg, tmp_path / str(scale), progress=False)
        last = load_run(tmp_path / str(scale)).metrics[-1]
        acc[scale] = (last["train_acc"], last["test_acc"])
    assert acc[1.0][0] == 1.0 and acc[8.0][0] > 0.95
    assert acc[1.0][1] > 0.85
    assert acc[8.0][1] < 0.4
