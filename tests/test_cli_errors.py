"""Bad input and damaged runs at the command line: one line on stderr (`error: ...`) and exit code 2, never a
traceback; or, where nothing is the user's mistake, the command works (a bad checkpoint among many is skipped
with a warning)."""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

import pytest

from grokinterp import load_run, progress
from grokinterp.cli import main
from grokinterp.sweep import expand, load_spec
from tests.helpers import tiny

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny 60-step run (checkpoints at steps 0, 1, 3, 7, 20, 40, 60; about 5 s), copied by `run`."""
    from grokinterp.train import train

    out = tmp_path_factory.mktemp("trained") / "run"
    train(tiny(), out, progress=False)
    return out


@pytest.fixture
def run(trained, tmp_path):
    """A fresh copy of the tiny run, free to damage."""
    return Path(shutil.copytree(trained, tmp_path / "run"))


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


def error_line(capsys) -> str:
    """The one stderr line of a refused command."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: "), err
    return err


# -------------------------------------------------------------------------------- 1. --help


@pytest.mark.parametrize("argv", [
    ["bench", "--help"], ["bench", "grok", "--help"], ["bench", "train", "--help"], ["bench", "progress", "--help"],
    ["bench", "sweep", "--help"], ["info", "--help"], ["report", "--help"], ["sweep", "--help"], ["train", "--help"],
])
def test_every_help_prints(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    assert "usage:" in capsys.readouterr().out


# -------------------------------------------------------------------------------- 2. a file for a directory


@pytest.mark.parametrize("command", ["info", "report"])
def test_file_for_a_run_directory(command, run, capsys):
    assert main([command, str(run / "config.json")]) == 2
    assert "is a file, not a run" in error_line(capsys)


def test_file_for_a_sweep_directory(tmp_path, capsys):
    spec, file = str(ROOT / "configs" / "sweeps" / "lr-wd.toml"), tmp_path / "file"
    file.write_text("x")
    assert main(["sweep", spec, "--out", str(file), "--no-progress"]) == 2
    assert "is a file, not a sweep directory" in error_line(capsys)
    assert main(["sweep", spec, "--out", str(file / "sweep"), "--no-progress"]) == 2  # below a file
    assert "Not a directory" in error_line(capsys)
    assert file.read_text() == "x"


# -------------------------------------------------------------------------------- 3. CheckpointError


@pytest.mark.parametrize("command", ["info", "report"])
def test_corrupt_config(command, run, capsys):
    flip_byte(run / "config.json")
    assert main([command, str(run)]) == 2
    err = error_line(capsys)
    assert f"run config {run / 'config.json'} is corrupt: sha256 mismatch" in err and "checkpoint" not in err


@pytest.mark.parametrize("command", ["info", "report"])
def test_corrupt_manifest(command, run, capsys):
    (run / "manifest.json").write_text("{not json")
    assert main([command, str(run)]) == 2
    assert "manifest" in error_line(capsys)


def test_corrupt_last_checkpoint(run, capsys):
    """The report skips a checkpoint that fails verification, names it on stderr and in the page, and draws
    the rest (it once exited 2)."""
    flip_byte(run / "ckpt" / "step_00000060.safetensors")
    assert main(["report", str(run), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "warning: skipping step 60" in err and "step_00000060.safetensors is corrupt" in err
    page = (run / "report.html").read_text()
    assert "Skipped checkpoints" in page and "step 60: checkpoint" in page
    assert main(["info", str(run)]) == 1  # info lists it, as a diagnosis, not an error
    assert "CORRUPT   ckpt/step_00000060.safetensors" in capsys.readouterr().out


# -------------------------------------------------------------------------------- 4. metrics.jsonl


@pytest.mark.parametrize("command", ["info", "report"])
def test_corrupt_metrics_line(command, run, capsys):
    path = run / "metrics.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = '{"step": 10, "train_lo\n'  # a garbled line in the middle (a garbled last line is dropped)
    path.write_text("".join(lines))
    assert main([command, str(run), *(["--no-progress"] if command == "report" else [])]) == 2
    assert "metrics.jsonl: line 3 is not valid JSON" in error_line(capsys)


# -------------------------------------------------------------------------------- 5. where the report goes


def test_report_into_a_read_only_run(run, capsys, monkeypatch):
    run.chmod(0o555)
    if os.geteuid() == 0:  # root may write there anyway: let the permission check see what a user sees
        access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode: access(path, mode) and Path(path) != run)
    try:
        assert main(["report", str(run), "--no-progress"]) == 2
    finally:
        run.chmod(0o755)
    assert f"{run} is not writable; pass -o FILE" in error_line(capsys)
    assert not (run / "report.html").exists()


def test_report_refused_by_the_filesystem(run, capsys, monkeypatch):
    """A write refused at the end (as a read-only mount or another user's directory does, even for root)."""
    def refuse(path, data):
        raise PermissionError(errno.EROFS, os.strerror(errno.EROFS), str(path.parent / f".{path.name}.tmp-1"))

    monkeypatch.setattr("grokinterp.runs.store.atomic_write_bytes", refuse)
    assert main(["report", str(run), "--no-progress"]) == 2
    err = error_line(capsys)
    assert f"report not written to {run / 'report.html'}" in err and "pass -o FILE" in err


def test_report_into_a_directory(run, tmp_path, capsys):
    out = tmp_path / "reports"
    out.mkdir()
    assert main(["report", str(run), "-o", str(out), "--no-progress"]) == 0
    assert (out / "report.html").stat().st_size > 0
    assert f"report written to {out / 'report.html'}" in capsys.readouterr().out


# -------------------------------------------------------------------------------- 6. one bad checkpoint


def test_bad_checkpoint_is_skipped(run, capsys):
    flip_byte(run / "ckpt" / "step_00000020.safetensors")
    r = load_run(run)
    with pytest.warns(UserWarning, match=r"skipping step 20: checkpoint .*step_00000020\.safetensors is corrupt"):
        steps, tensors = r.stacked()
    assert steps == [0, 1, 3, 7, 40, 60] and tensors["embed.weight"].shape[0] == 6
    with pytest.warns(UserWarning, match=r"step_00000020\.safetensors"):
        assert progress.measures(r, progress=False).steps.tolist() == [0, 1, 3, 7, 40, 60]
    with pytest.warns(UserWarning, match=r"step_00000020\.safetensors"):
        assert main(["report", str(run), "--no-progress"]) == 0
    assert (run / "report.html").exists()


# -------------------------------------------------------------------------------- 7. no manifest


def test_deleted_manifest(run, capsys):
    (run / "manifest.json").unlink()
    assert main(["info", str(run)]) == 2
    err = error_line(capsys)
    assert "manifest.json is missing" in err and "grokinterp repair" in err and "12 run files" in err
    assert "verified" not in capsys.readouterr().out


# -------------------------------------------------------------------------------- 8. other write errors


def test_full_disk(run, capsys, monkeypatch):
    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("grokinterp.runs.store.atomic_write_bytes", full)
    assert main(["report", str(run), "--no-progress"]) == 2
    err = error_line(capsys)
    assert "No space left on device" in err and "pass -o" not in err


def test_missing_run(tmp_path, capsys):
    for command in ("info", "report"):
        assert main([command, str(tmp_path / "missing")]) == 2
        assert "no run directory at" in error_line(capsys)


# -------------------------------------------------------------------------------- 9, 10. install and README


def test_torch_pin_matches_the_installed_torch():
    import torch

    lines = [ln.strip() for ln in (ROOT / "requirements-torch.txt").read_text().splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    pin = next(ln for ln in lines if ln.startswith("torch=="))
    assert pin == f"torch=={torch.__version__.split('+')[0]}"


def test_readme_sweep_specs_exist_and_parse():
    specs = re.findall(r"grokinterp sweep (\S+\.toml)", (ROOT / "README.md").read_text())
    assert specs
    for spec in specs:
        assert expand(load_spec(ROOT / spec)), spec


# -------------------------------------------------------------------------------- train: bad input and bad runs

TRAIN = ["train", "mod113", "--no-progress"]


def train_args(out: Path, **overrides) -> list[str]:
    from tests.helpers import TINY, as_set_args

    return [*TRAIN, "--out", str(out), *as_set_args({**TINY, **overrides})]


def test_train_fewer_steps_than_trained(run, capsys):
    assert main(train_args(run, **{"train.steps": 20})) == 2
    assert "already trained to step 60" in error_line(capsys)


@pytest.mark.parametrize("what", ["file", "not-a-run", "sweep"])
def test_train_out_that_is_no_run_directory(what, tmp_path, capsys):
    out = tmp_path / "out"
    if what == "file":
        out.write_text("x")
    else:
        out.mkdir()
        (out / ("sweep.json" if what == "sweep" else "notes.txt")).write_text("{}")
    before = sorted(p.name for p in out.iterdir()) if out.is_dir() else None
    assert main(train_args(out)) == 2
    assert {"file": "is a file", "not-a-run": "holds no run", "sweep": "sweep directory"}[what] in error_line(capsys)
    assert (sorted(p.name for p in out.iterdir()) if out.is_dir() else None) == before  # nothing written


def test_a_refused_config_leaves_nothing_that_blocks_the_corrected_command(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(train_args(out, **{"accel.transfer_from": str(tmp_path / "no-such-run")})) == 2
    error_line(capsys)
    assert not (out / "config.json").exists()
    assert main(train_args(out, **{"train.steps": 5})) == 0


@pytest.mark.parametrize("override, needle", [
    ({"train.lr": "1e400"}, "train.lr must be a finite number"),
    ({"task.frac_train": 0.001}, "leaves 0 for training"),
    ({"task.p": 100_000}, "choose a smaller task.p"),
    ({"task.n": 4}, "unknown config key 'task.n' for task family 'modular'"),
    ({"model.d_mlp": 10**9}, "model.d_mlp must be at most 1,048,576"),
    ({"model.d_model": 65_536, "model.d_mlp": 1_048_576}, "out of memory"),  # within the bounds: 256 GB
    ({"train.no_decay": "embed.W_E"}, "train.no_decay names embed.W_E: not a trainable tensor of this model"),
])
def test_train_bad_values(override, needle, tmp_path, capsys):
    assert main(train_args(tmp_path / "r", **override)) == 2
    assert needle in error_line(capsys)


def test_a_diverging_run_stops_with_one_line_and_strict_json(tmp_path, capsys):
    assert main(train_args(tmp_path / "r", **{"train.lr": 1e30, "train.warmup_steps": 0})) == 2
    assert "train loss is" in error_line(capsys)
    import json

    for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c} in metrics.jsonl"))


def test_train_on_a_full_disk(run, capsys, monkeypatch):
    from grokinterp.runs import store

    real = store.atomic_write_bytes

    def full(path, data):
        if "step_" in Path(path).name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(store, "atomic_write_bytes", full)
    assert main(train_args(run, **{"train.steps": 80})) == 2
    assert "No space left on device" in error_line(capsys)


def test_train_resumes_past_a_corrupt_metrics_line(run, capsys):
    path = run / "metrics.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], '{"step": 3, "trunc', *lines[1:]]) + "\n")
    with pytest.warns(UserWarning, match="line 2 is not valid JSON"):
        assert main(train_args(run, **{"train.steps": 80})) == 0
    assert [r["step"] for r in load_run(run).metrics][-1] == 80


def test_train_on_a_run_with_a_corrupt_config(run, capsys):
    (run / "config.json").write_text("{")
    assert main(train_args(run)) == 2
    assert "config.json" in error_line(capsys)


def test_info_on_a_run_that_never_started(tmp_path, capsys):
    from grokinterp.runs.record import config_record
    from grokinterp.runs.store import RunStore

    store = RunStore(tmp_path / "r")
    with store.locked():
        store.write_config(config_record(tiny()))  # killed before its split and first checkpoint
    assert main(["info", str(tmp_path / "r")]) == 0
    assert "not started" in capsys.readouterr().out


@pytest.mark.parametrize("overrides, words", [
    (["task.data_path=/no/such/dir"], "/no/such/dir is not a directory"),
    (["task.dataset=mnist1d", "task.data_path=/tmp"], "task.data_path is for the IDX data sets"),
])
def test_image_data_mistakes_are_one_line(overrides, words, tmp_path, capsys):
    args = ["train", "fashion-omnigrok", "--out", str(tmp_path / "r"), "--no-progress"]
    assert main(args + [a for o in overrides for a in ("--set", o)]) == 2
    assert words in error_line(capsys)
