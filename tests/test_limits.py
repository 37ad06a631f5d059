"""grokinterp.limits: the bounds, and the `--set` check the command line runs before torch is imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from grokinterp.config import ConfigError
from grokinterp.limits import BOUNDED_KEYS, MAX_STEPS, check_bounded_overrides, split_override
from grokinterp.presets import get_preset


@pytest.mark.parametrize("override", ["train.steps=1e30", "train.steps=1000000000000", "train.ckpt_log_points=1e8",
                                      " train.batch_size = 1e9"])
def test_the_early_check_says_what_the_full_validation_says(override):
    with pytest.raises(ConfigError) as early:
        check_bounded_overrides([override])
    with pytest.raises(ConfigError) as full:
        get_preset("mod113-small").with_overrides([override])
    assert str(early.value) == str(full.value)
    assert "must be at most" in str(early.value)


@pytest.mark.parametrize("override", [f"train.steps={MAX_STEPS}", "train.steps=1e3.5", "train.steps=nope",
                                      "train.steps=NaN", "train.steps=true", "train.lr=1e30", "task.p=1e30",
                                      "train.batch_size=-1", "no-equals-sign"])
def test_the_early_check_leaves_everything_else_to_the_full_validation(override):
    check_bounded_overrides([override])  # no error here: the full parse names type errors and other keys


def test_every_bounded_key_is_a_train_integer():
    cfg = get_preset("mod113-small")
    for key in BOUNDED_KEYS:
        section, name = key.split(".")
        assert isinstance(getattr(getattr(cfg, section), name), int)


def test_split_override_parses_json_and_keeps_bare_strings():
    assert split_override("train.lr = 0.5") == ("train.lr", 0.5)
    assert split_override("train.engine=hooked") == ("train.engine", "hooked")
    assert split_override("train.embed_lr=None") == ("train.embed_lr", None)
    with pytest.raises(ConfigError, match="expected key=value"):
        split_override("train.lr")




@pytest.mark.parametrize("entry", ["grokinterp.train.cli", "grokinterp.cli"])
def test_a_step_count_out_of_bounds_fails_before_torch_is_imported(entry, tmp_path):
    """`--set train.steps=1e30` is one line and exit code 2 without loading torch (1.1 s of the 1.6 s the
    command took). Checked by what was imported, not by a timer."""
    args = '["mod113-small", "--out", sys.argv[1], "--set", "train.steps=1e30"]'
    call = f"main({args})" if entry.endswith("train.cli") else f"main(['train', *{args}])"
    code = (f"import json, sys\nfrom {entry} import main\nrc = {call}\n"
            "print(json.dumps({'rc': rc, 'torch': 'torch' in sys.modules}))")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r")], capture_output=True, text=True)
    assert json.loads(proc.stdout) == {"rc": 2, "torch": False}
    assert proc.stderr.strip().splitlines() == [
        "error: train.steps must be at most 1,000,000,000, got 1,000,000,000,000,000,019,884,624,838,656"]
    assert not (tmp_path / "r").exists()


def test_the_package_loads_its_public_names_on_first_use():
    import grokinterp

    assert {"load_run", "progress", "RunConfig", "PRESETS"} <= set(dir(grokinterp))
    assert grokinterp.get_preset("mod113-small").train.steps == get_preset("mod113-small").train.steps
    assert grokinterp.progress.__name__ == "grokinterp.progress"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        grokinterp.nope  # noqa: B018
