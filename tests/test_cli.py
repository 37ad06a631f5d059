"""Entry points: user mistakes exit with code 2 and one line on stderr, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from grokinterp import cli
from grokinterp import train as train_mod
from grokinterp.runs.store import RunStore
from tests.helpers import TINY, as_set_args


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["nope"], "unknown preset 'nope'"),
        (["mod113", "--set", "train.wd=1"], "unknown config key 'train.wd'"),
        (["mod113", "--set", "task.frac_train=1.5"], "task.frac_train must be in (0, 1)"),
        (["mod113", "--set", "task.p=1"], "task.p must be >= 2"),
        (["mod113", "--set", "task.op=div", "--set", "task.p=12"], "needs a prime modulus"),
        (["mod113", "--set", "model.d_model=abc"], "model.d_model must be an integer"),
        (["mod113", "--set", "train.steps"], "expected key=value"),
        (["mod113", "--set", "train.device=cuda"], "CUDA is not available"),
        (["s5", "--set", "task.op=add"], "unknown permutation operation 'add'"),
        (["s5", "--set", "task.n=9"], "task.n must be between 2 and 6"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, needle, tmp_path, capsys):
    code = train_mod.main([*argv, "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_locked_run_exits_2(tmp_path, capsys):
    store = RunStore(tmp_path / "run")
    store.acquire()
    try:
        code = train_mod.main(["mod113", "--out", str(tmp_path / "run"), "--no-progress", *as_set_args(TINY)])
    finally:
        store.release()
    assert code == 2 and "locked" in capsys.readouterr().err


def test_train_then_info(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "mod113", "--out", str(out), "--no-progress", *as_set_args(TINY)]) == 0
    assert "run written to" in capsys.readouterr().out
    assert cli.main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ckpts" in text and "all files match the manifest" in text
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
    assert "config.json" in capsys.readouterr().err
    assert cli.main(["presets"]) == 0
    assert "mod113" in capsys.readouterr().out


def test_console_script_module_runs():
    out = subprocess.run([sys.executable, "-m", "grokinterp", "presets"], capture_output=True, text=True)
    assert out.returncode == 0 and "mod113" in out.stdout
