"""The `grokinterp` command (grokinterp.cli): train then info, user mistakes exit with code 2 and one line on
stderr, and `python -m grokinterp`."""

from __future__ import annotations

import subprocess
import sys

from grokinterp import cli
from tests.helpers import TINY, as_set_args


def test_train_then_info(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "mod113", "--out", str(out), "--no-progress", *as_set_args(TINY)]) == 0
    assert "run written to" in capsys.readouterr().out
    assert cli.main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ckpts" in text and "all files match the manifest" in text
    assert "model     1 layer(s), d_model 32, 4 heads x 8, d_mlp 64" in text  # the architecture's description
    assert "optimiser AdamW lr 0.001, weight decay 1" in text
    # a corrupted file makes `info` fail and name it
    path = out / "ckpt" / "step_00000060.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x10
    path.write_bytes(bytes(data))
    assert cli.main(["info", str(out)]) == 1
    assert "step_00000060.safetensors" in capsys.readouterr().out


def test_cli_errors(tmp_path, capsys):
    assert cli.main(["frobnicate"]) == 2
    assert "unknown command" in capsys.readouterr().err
    assert cli.main(["info", str(tmp_path / "missing")]) == 2
    assert "no run directory at" in capsys.readouterr().err
    assert cli.main(["presets"]) == 0
    assert "mod113" in capsys.readouterr().out


def test_console_script_module_runs():
    out = subprocess.run([sys.executable, "-m", "grokinterp", "presets"], capture_output=True, text=True)
    assert out.returncode == 0 and "mod113" in out.stdout
