"""The run directory (grokinterp.train.rundir): another run or a second writer is refused; config.json follows
an extension."""

from __future__ import annotations

import pytest

from grokinterp import load_run
from grokinterp.config import ConfigError
from grokinterp.runs.store import RunLockedError, RunStore
from grokinterp.train import train
from tests.helpers import tiny


def test_resume_refuses_a_different_config(tmp_path):
    train(tiny(), tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match=r"differs in model\.d_mlp"):
        train(tiny(**{"model.d_mlp": 32}), tmp_path / "run", progress=False)


def test_second_writer_is_refused(tmp_path):
    store = RunStore(tmp_path / "run")
    store.acquire()
    try:
        with pytest.raises(RunLockedError):
            train(tiny(), tmp_path / "run", progress=False)
    finally:
        store.release()


def test_config_json_tells_the_truth_after_an_extension(tmp_path):
    train(tiny(**{"train.steps": 20}), tmp_path / "r", progress=False)
    assert load_run(tmp_path / "r").config.train.steps == 20
    train(tiny(**{"train.steps": 40}), tmp_path / "r", progress=False)
    run = load_run(tmp_path / "r")
    assert run.config.train.steps == 40 and run.steps[-1] == 40
    assert all(err is None for err in run.store.verify().values())


def damage_manifest(path, how: str) -> None:
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    else:
        path.write_bytes(b"\x00garbage\xff" * 10)


@pytest.mark.parametrize("how", ["delete", "truncate", "garbage"])
def test_a_lost_manifest_is_rebuilt_and_nothing_is_lost(tmp_path, how):
    """A run whose manifest.json is deleted, truncated or overwritten is not taken for a new run (it once
    restarted from step 0 and truncated metrics.jsonl): training rebuilds the manifest from the files on disk,
    says so, and a finished run keeps every row and checkpoint, an interrupted one ends bitwise equal to an
    uninterrupted run."""
    import shutil

    from tests.helpers import assert_bitwise_equal, final_tensors, metrics_wo_time

    cfg = tiny()
    ref = tmp_path / "ref"
    train(cfg, ref, progress=False)
    finished = tmp_path / "finished"
    shutil.copytree(ref, finished)
    damage_manifest(finished / "manifest.json", how)
    with pytest.raises(Exception, match="grokinterp repair"):
        load_run(finished)  # reading does not guess: it names the repair
    with pytest.warns(UserWarning, match="rebuilt .*manifest.json from the files on disk: 7 checkpoint"):
        train(cfg, finished, progress=False)
    assert metrics_wo_time(finished) == metrics_wo_time(ref)
    assert load_run(finished).steps == load_run(ref).steps
    assert_bitwise_equal(final_tensors(finished), final_tensors(ref))

    interrupted = tmp_path / "interrupted"
    train(cfg.with_overrides({"train.steps": 40}), interrupted, progress=False)
    damage_manifest(interrupted / "manifest.json", how)
    with pytest.warns(UserWarning, match="resume point ckpt/resume_00000040"):
        train(cfg, interrupted, progress=False)
    assert metrics_wo_time(interrupted) == metrics_wo_time(ref)
    assert load_run(interrupted).steps == load_run(ref).steps
    assert_bitwise_equal(final_tensors(interrupted), final_tensors(ref))


def test_repair_rebuilds_the_manifest_and_leaves_out_unreadable_files(tmp_path, capsys):
    from grokinterp import cli

    train(tiny(), tmp_path / "run", progress=False)
    (tmp_path / "run" / "manifest.json").unlink()
    (tmp_path / "run" / "ckpt" / "step_00000040.safetensors").write_bytes(b"not a safetensors file")
    assert cli.main(["repair", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "6 checkpoint(s)" in out and "left out (unreadable): ckpt/step_00000040.safetensors" in out
    run = load_run(tmp_path / "run")
    assert 40 not in run.steps and run.steps[-1] == 60 and len(run.metrics) > 0
    assert cli.main(["repair", str(tmp_path / "run")]) == 0
    assert "nothing to repair" in capsys.readouterr().out
    assert cli.main(["repair", str(tmp_path / "nope")]) == 2
