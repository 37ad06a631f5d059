"""load_run / Run: the public reading API, corruption handling, no pickle on the load path."""

from __future__ import annotations

import pickle

import pytest
import torch

import grokinterp
from grokinterp import load_run, models
from grokinterp.models import named_tensors
from grokinterp.runs.store import CheckpointError
from grokinterp.train import train
from tests.helpers import tiny


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    train(tiny(), out, progress=False)
    return out


def test_run_api(run_dir):
    run = grokinterp.load_run(run_dir)
    assert run.config == tiny()
    assert run.steps[0] == 0 and run.steps[-1] == 60
    steps, values = run.metric("test_loss")
    assert steps == [r["step"] for r in run.metrics] and len(values) == len(steps)
    # Run.model(step) is a hooked TL model carrying that checkpoint's weights
    m20, m60 = run.model(20), run.model(60)
    assert torch.equal(m60.W_E, run.state_dict(60)["embed.weight"])
    assert not torch.equal(m20.W_E, m60.W_E)
    task = run.task()
    _, cache = m60.run_with_cache(task.tokens[:5])
    assert cache["blocks.0.mlp.hook_post"].shape == (5, 3, 64)
    assert cache["blocks.0.attn.hook_pattern"].shape == (5, 4, 3, 3)


def test_stacked_checkpoints_feed_the_fused_forward(run_dir):
    run = grokinterp.load_run(run_dir)
    steps, stacked = run.stacked([0, 20, 60])
    assert steps == [0, 20, 60]
    assert stacked["embed.weight"].shape == (3, 18, 32)
    task = run.task()
    x = task.tokens[task.test_idx]
    for i, step in enumerate(steps):
        params = {k: v[i] for k, v in stacked.items()}
        ref = models.hooked_logits(run.model(step), x, task.answer_pos)
        got = models.fused_logits(params, run.config.model, x, task.answer_pos)
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def test_checkpoints_come_in_the_models_order(run_dir):
    """safetensors loads a file's tensors in an order that changes per process; a run's checkpoints come in
    the model's state_dict order (what seeded analyses draw their noise in), whatever the file's order."""
    run = grokinterp.load_run(run_dir)
    order = list(named_tensors(run.model(0)))
    assert list(run.state_dict(20)) == order
    assert all(list(tensors) == order for _, tensors in run.checkpoints([0, 60]))
    assert list(run.stacked([0, 20])[1]) == order
    assert list(run.store.load_checkpoint(20)) == sorted(order)  # the store's own order: by name


def test_model_load_changes_parameters(run_dir):
    """TL #1587: a bridge round trip once silently loaded nothing; check the load really moves weights."""
    run = grokinterp.load_run(run_dir)
    fresh = named_tensors(run.model(0))
    loaded = named_tensors(run.model(60))
    changed = [k for k in fresh if not torch.equal(fresh[k], loaded[k])]
    assert "embed.weight" in changed and "blocks.0.mlp.in.weight" in changed


def test_corrupted_checkpoint_names_the_file_and_spares_the_rest(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    path = copy / "ckpt" / "step_00000020.safetensors"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01  # one flipped bit in tensor data: safetensors alone would load it silently
    path.write_bytes(bytes(data))
    run = grokinterp.load_run(copy)
    with pytest.raises(CheckpointError, match="step_00000020.safetensors"):
        run.model(20)
    run.model(40)  # the others still load
    trunc = copy / "ckpt" / "step_00000040.safetensors"
    trunc.write_bytes(trunc.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="step_00000040.safetensors"):
        run.state_dict(40)
    assert torch.equal(run.state_dict(60)["embed.weight"], grokinterp.load_run(run_dir).state_dict(60)["embed.weight"])


def test_no_pickle_on_the_load_path(run_dir, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("pickle used on a load path")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    run = grokinterp.load_run(run_dir)
    run.model(60)
    run.stacked()
    run.task()
    assert run.metrics


def test_load_run_of_missing_dir_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run directory at"):
        grokinterp.load_run(tmp_path / "nope")


def test_api_mistakes_are_named_errors_with_one_clear_message(tmp_path, monkeypatch):
    """Never an IndexError, TypeError or NotADirectoryError from the public API."""
    import jaxtyping

    from grokinterp import progress
    from grokinterp.errors import RunNotFoundError
    from grokinterp.runs.record import config_record
    from grokinterp.runs.store import CheckpointError, RunStore
    from grokinterp.tasks import make_task

    (tmp_path / "file").write_text("x")
    with pytest.raises(RunNotFoundError, match="is a file, not a run directory"):
        load_run(tmp_path / "file")
    with pytest.raises(RunNotFoundError, match="no run directory at"):
        load_run(tmp_path / "missing")
    cfg = tiny()
    store = RunStore(tmp_path / "empty")  # a config and a split, no checkpoint yet
    with store.locked():
        store.write_config(config_record(cfg))
        task = make_task(cfg.task)
        store.write_split({"train_idx": task.train_idx, "test_idx": task.test_idx})
    run = load_run(tmp_path / "empty")
    with pytest.raises(CheckpointError, match="has no checkpoint yet"):
        run.model()
    with pytest.raises(ValueError, match="has no checkpoint yet"):
        progress.measures(run, progress=False)
    with pytest.raises(ValueError, match="has no checkpoint yet"):
        progress.phases(run)
    train(cfg, tmp_path / "run", progress=False)
    run = load_run(tmp_path / "run")
    with pytest.raises(KeyError, match="no metric 'nope'.*columns: .*test_acc"):
        run.metric("nope")
    monkeypatch.setattr(jaxtyping.config, "jaxtyping_disable", True)  # as users run: no runtime type checker
    with pytest.raises(ValueError, match="step must be an int, got '20'"):
        run.state_dict("20")
