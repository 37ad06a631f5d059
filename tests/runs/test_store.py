"""Tests for grokinterp.runs.store: round trips, corruption detection, crash safety, locking, metrics."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import grokinterp.runs.store as store_mod
from grokinterp.runs.store import (
    FORMAT,
    CheckpointError,
    RunLockedError,
    RunStore,
    atomic_write_bytes,
    atomic_write_json,
    sha256_file,
)
from tests.helpers import REPO


def model_tensors(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "embed.W_E": torch.randn(7, 5, generator=g),
        "blocks.0.attn.W_Q": torch.randn(2, 5, 3, generator=g, dtype=torch.float64),
        "unembed.b_U": torch.randint(-100, 100, (7,), generator=g),
        "half": torch.randn(4, generator=g).half(),
    }


def resume_tensors(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1000 + seed)
    return {"opt.exp_avg.embed": torch.randn(7, 5, generator=g), "opt.step": torch.tensor([seed])}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert set(a) == set(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert torch.equal(a[k], b[k]), k


def make_run(path: Path, steps=(100, 200, 300)) -> RunStore:
    s = RunStore(path)
    with s.locked():
        s.write_config({"task": "mod", "p": 113, "lr": 1e-3})
        for i, step in enumerate(steps):
            meta = {"step": str(step), "i": str(i)}
            s.save_checkpoint(step, model_tensors(step), resume_tensors(step), meta)
    return s


# --------------------------------------------------------------------------- round trip


def test_round_trip(tmp_path: Path) -> None:
    run = tmp_path / "run"
    s = RunStore(run)
    assert not s.exists() and not run.exists()  # constructing creates nothing
    with s.locked():
        s.write_config({"task": "mod", "p": 113})
        s.write_split({"train": torch.arange(10), "test": torch.arange(10, 20)})
        for step in (300, 100, 200):  # out of order on purpose
            s.save_checkpoint(step, model_tensors(step), resume_tensors(step), {"step": str(step)})
    assert s.exists()
    r = RunStore(run)  # fresh reader, no lock
    assert r.steps() == [100, 200, 300]
    for step in (100, 200, 300):
        assert_same(r.load_checkpoint(step), model_tensors(step))
        assert r.checkpoint_metadata(step) == {"step": str(step)}
    assert r.read_config() == {"task": "mod", "p": 113}
    assert_same(r.read_split(), {"train": torch.arange(10), "test": torch.arange(10, 20)})
    assert all(v is None for v in r.verify().values())

    m = json.loads((run / "manifest.json").read_text())
    assert m["format"] == FORMAT
    entry = m["files"]["ckpt/step_00000100.safetensors"]
    assert entry["step"] == 100
    assert entry["sha256"] == sha256_file(run / "ckpt/step_00000100.safetensors")
    assert entry["bytes"] == (run / "ckpt/step_00000100.safetensors").stat().st_size
    assert m["files"]["config.json"]["sha256"] == sha256_file(run / "config.json")
    assert not list(run.rglob("*.tmp-*"))


def test_non_contiguous_shared_and_overwrite(tmp_path: Path) -> None:
    s = RunStore(tmp_path / "run")
    base = torch.randn(4, 6)
    tensors = {"w": base, "wt": base.t(), "view": base[1:3]}  # shared storage, non-contiguous
    with s.locked():
        s.save_checkpoint(5, tensors, metadata={"a": "1"})
        s.save_checkpoint(5, {"w": torch.zeros(2)}, metadata={"a": "2"})  # same step overwrites
        with pytest.raises(TypeError):
            s.save_checkpoint(6, tensors, metadata={"a": 1})  # type: ignore[dict-item]
    assert s.steps() == [5]
    assert_same(s.load_checkpoint(5), {"w": torch.zeros(2)})
    assert s.checkpoint_metadata(5) == {"a": "2"}


def test_unknown_step_message(tmp_path: Path) -> None:
    s = make_run(tmp_path / "run")
    expected = r"no checkpoint at step 150 in .*steps: 100\.\.300 \(3 checkpoints\)"
    with pytest.raises(ValueError, match=expected):
        s.load_checkpoint(150)
    empty = RunStore(tmp_path / "empty")
    assert empty.steps() == [] and empty.latest_resume() is None and empty.verify() == {}
    with pytest.raises(FileNotFoundError, match="no run at .*config.json missing"):
        empty.read_config()


# --------------------------------------------------------------------------- resume


def test_latest_two_resume_points_kept(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_run(run)
    on_disk = sorted(p.name for p in (run / "ckpt").glob("resume_*"))
    assert on_disk == ["resume_00000200.safetensors", "resume_00000300.safetensors"]
    assert sorted(p.name for p in (run / "ckpt").glob("step_*")) == [
        "step_00000100.safetensors",
        "step_00000200.safetensors",
        "step_00000300.safetensors",
    ]
    m = json.loads((run / "manifest.json").read_text())
    assert m["resume"] == "ckpt/resume_00000300.safetensors"
    assert m["resume_prev"] == "ckpt/resume_00000200.safetensors"
    assert sorted(k for k in m["files"] if "resume_" in k) == ["ckpt/resume_00000200.safetensors",
                                                               "ckpt/resume_00000300.safetensors"]
    got = RunStore(run).latest_resume()
    assert got is not None
    step, model, resume, meta = got
    assert step == 300
    assert_same(model, model_tensors(300))
    assert_same(resume, resume_tensors(300))
    assert meta == {"step": "300", "i": "2"}


# --------------------------------------------------------------------------- corruption


def test_flipped_byte_detected(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_run(run)
    bad = run / "ckpt/step_00000200.safetensors"
    data = bytearray(bad.read_bytes())
    data[-1] ^= 0x01  # last byte is tensor data: safetensors alone would load this silently
    bad.write_bytes(bytes(data))
    s = RunStore(run)
    with pytest.raises(CheckpointError) as ei:
        s.load_checkpoint(200)
    msg = str(ei.value)
    assert "step_00000200.safetensors" in msg and "sha256 mismatch" in msg and "\n" not in msg
    with pytest.raises(CheckpointError, match="step_00000200"):
        s.checkpoint_metadata(200)
    assert_same(s.load_checkpoint(100), model_tensors(100))
    assert_same(s.load_checkpoint(300), model_tensors(300))
    report = s.verify()
    assert {k for k, v in report.items() if v is not None} == {"ckpt/step_00000200.safetensors"}
    assert "config.json" in report and "ckpt/resume_00000300.safetensors" in report


def test_truncated_and_missing_detected(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_run(run)
    bad = run / "ckpt/step_00000100.safetensors"
    bad.write_bytes(bad.read_bytes()[:-17])
    s = RunStore(run)
    with pytest.raises(CheckpointError, match=r"step_00000100\.safetensors is corrupt"):
        s.load_checkpoint(100)
    assert_same(s.load_checkpoint(200), model_tensors(200))
    (run / "ckpt/resume_00000300.safetensors").unlink()
    with pytest.warns(UserWarning, match=r"resume_00000300\.safetensors is missing.*the resume point before it"):
        step, model, resume, _ = s.latest_resume()
    assert step == 200
    assert_same(model, model_tensors(200))
    assert_same(resume, resume_tensors(200))
    report = s.verify()
    assert {k for k, v in report.items() if v is not None} == {
        "ckpt/step_00000100.safetensors",
        "ckpt/resume_00000300.safetensors",
    }
    (run / "ckpt/resume_00000200.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=r"both resume points .* fail verification: .*resume_00000300\."
                       r"safetensors is missing.*resume_00000200\.safetensors is corrupt"), pytest.warns(UserWarning):
        s.latest_resume()  # both resume points bad: one error naming each


def test_corrupt_manifest(tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_run(run)
    (run / "manifest.json").write_text('{"format": "grokinterp-run/1", "fil')
    with pytest.raises(CheckpointError, match="manifest.json"):
        RunStore(run).steps()
    assert list(RunStore(run).verify()) == ["manifest.json"]


# --------------------------------------------------------------------------- crash safety


def test_crash_before_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    s = RunStore(run)
    s.acquire()
    s.write_config({"p": 113})
    s.save_checkpoint(1, model_tensors(1), resume_tensors(1))
    s.save_checkpoint(2, model_tensors(2), resume_tensors(2))

    real = store_mod.atomic_write_json

    def crash(path, obj) -> None:
        if Path(path).name == "manifest.json":
            raise KeyboardInterrupt("simulated kill before manifest")
        real(path, obj)

    monkeypatch.setattr(store_mod, "atomic_write_json", crash)
    with pytest.raises(KeyboardInterrupt):
        s.save_checkpoint(3, model_tensors(3), resume_tensors(3))
    monkeypatch.setattr(store_mod, "atomic_write_json", real)
    # the step-3 files were written but never committed; plus an abandoned temp file
    assert (run / "ckpt/step_00000003.safetensors").exists()
    assert (run / "ckpt/resume_00000003.safetensors").exists()
    (run / "ckpt/.step_00000004.safetensors.tmp-deadbeef").write_bytes(b"partial")

    r = RunStore(run)
    assert r.steps() == [1, 2]
    got = r.latest_resume()
    assert got is not None and got[0] == 2
    assert_same(got[1], model_tensors(2))
    assert_same(got[2], resume_tensors(2))
    assert set(r.verify()) == {
        "config.json",
        "ckpt/step_00000001.safetensors",
        "ckpt/step_00000002.safetensors",
        "ckpt/resume_00000001.safetensors",
        "ckpt/resume_00000002.safetensors",
    }
    with pytest.raises(ValueError, match="no checkpoint at step 3"):
        r.load_checkpoint(3)

    s.release()  # the "killed" writer goes away
    with r.locked():
        r.save_checkpoint(3, model_tensors(33), resume_tensors(33))
    assert r.steps() == [1, 2, 3]
    assert_same(r.load_checkpoint(3), model_tensors(33))
    got = r.latest_resume()
    assert got is not None and got[0] == 3
    assert_same(got[2], resume_tensors(33))
    assert sorted(p.name for p in (run / "ckpt").glob("resume_*")) == ["resume_00000002.safetensors",
                                                                       "resume_00000003.safetensors"]
    assert not list(run.rglob("*.tmp-*"))
    assert all(v is None for v in r.verify().values())


def test_atomic_write_helpers(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    atomic_write_json(p, {"b": 1, "a": [1, 2]})
    text = p.read_text()
    assert text.endswith("}\n") and text.index('"a"') < text.index('"b"')
    assert json.loads(text) == {"b": 1, "a": [1, 2]}
    atomic_write_bytes(p, b"new")
    assert p.read_bytes() == b"new"
    assert [q.name for q in tmp_path.iterdir()] == ["x.json"]


# --------------------------------------------------------------------------- locking

HOLDER = """
import os, signal, sys, time
from grokinterp.runs.store import RunStore
s = RunStore(sys.argv[1])
s.acquire()
open(sys.argv[2], "w").write(str(os.getpid()))
if sys.argv[3] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
time.sleep(60)
"""


def _spawn(run: Path, ready: Path, mode: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", HOLDER, str(run), str(ready), mode], env=env)


def _wait_ready(proc: subprocess.Popen, ready: Path) -> None:
    deadline = time.monotonic() + 20
    while not (ready.exists() and ready.read_text()):
        assert proc.poll() is None, f"holder exited early ({proc.returncode})"
        assert time.monotonic() < deadline, "holder never became ready"
        time.sleep(0.02)


def test_lock_same_process(tmp_path: Path) -> None:
    run = tmp_path / "a" / "run"
    s1 = RunStore(run)
    s1.acquire()  # creates the directory
    assert run.is_dir() and (run / ".lock").read_text().strip() == str(os.getpid())
    s2 = RunStore(run)
    with pytest.raises(RunLockedError) as ei:
        s2.acquire()
    assert str(run) in str(ei.value) and str(os.getpid()) in str(ei.value)
    with pytest.raises(RuntimeError, match="not locked"):
        s2.save_checkpoint(1, model_tensors(1))
    s1.release()
    with s2.locked():
        s2.save_checkpoint(1, model_tensors(1))
    with pytest.raises(RunLockedError):
        with s2.locked():
            RunStore(run).acquire()


def test_writes_require_lock(tmp_path: Path) -> None:
    s = RunStore(tmp_path / "run")
    for call in (
        lambda: s.write_config({}),
        lambda: s.write_split({"train": torch.arange(3)}),
        lambda: s.save_checkpoint(1, model_tensors(1)),
        lambda: s.append_metrics([{"step": 1}]),
        lambda: s.truncate_metrics(1),
    ):
        with pytest.raises(RuntimeError, match="not locked"):
            call()
    assert not (tmp_path / "run").exists()


def test_lock_released_by_kill(tmp_path: Path) -> None:
    run = tmp_path / "run"
    ready = tmp_path / "ready"
    proc = _spawn(run, ready, "kill")
    assert proc.wait(timeout=30) == -9
    assert ready.exists()
    s = RunStore(run)
    s.acquire()  # kernel dropped the dead process's flock
    s.release()


def test_lock_held_by_live_process(tmp_path: Path) -> None:
    run = tmp_path / "run"
    ready = tmp_path / "ready"
    proc = _spawn(run, ready, "sleep")
    try:
        _wait_ready(proc, ready)
        with pytest.raises(RunLockedError, match=rf"locked .*pid {proc.pid}\)") as ei:
            RunStore(run).acquire()
        assert str(run) in str(ei.value)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    RunStore(run).acquire()


# --------------------------------------------------------------------------- metrics


def test_metrics(tmp_path: Path) -> None:
    run = tmp_path / "run"
    s = RunStore(run)
    assert s.read_metrics() == []
    with s.locked():
        s.append_metrics([{"step": 0, "loss": 4.7}, {"step": 10, "loss": 3.1}])
        s.append_metrics([{"step": 20, "loss": 2.0, "acc": 0.5}])
        with pytest.raises(ValueError):
            s.append_metrics([{"loss": 1.0}])
    assert [r["step"] for r in s.read_metrics()] == [0, 10, 20]
    with open(run / "metrics.jsonl", "ab") as f:
        f.write(b'{"step": 30, "lo')  # killed mid-write
    assert [r["step"] for r in s.read_metrics()] == [0, 10, 20]
    with s.locked():
        s.append_metrics([{"step": 30, "loss": 1.5}])  # partial tail is dropped, not glued
        assert [r["step"] for r in s.read_metrics()] == [0, 10, 20, 30]
        s.truncate_metrics(10)
    assert s.read_metrics() == [{"step": 0, "loss": 4.7}, {"step": 10, "loss": 3.1}]
    assert (run / "metrics.jsonl").read_text().endswith("}\n")


# --------------------------------------------------------------------------- no pickle


def test_no_pickle_on_load_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    s = RunStore(run)
    with s.locked():
        s.write_config({"p": 113})
        s.write_split({"train": torch.arange(5)})
        s.save_checkpoint(1, model_tensors(1), resume_tensors(1), {"k": "v"})

    def forbidden(*a, **k):
        raise AssertionError("pickle/torch.load used")

    for mod, name in [(pickle, "load"), (pickle, "loads"), (pickle, "dump"), (pickle, "dumps"),
                      (torch, "load"), (torch, "save")]:
        monkeypatch.setattr(mod, name, forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    r = RunStore(run)
    assert_same(r.load_checkpoint(1), model_tensors(1))
    assert r.checkpoint_metadata(1) == {"k": "v"}
    assert r.latest_resume() is not None
    assert_same(r.read_split(), {"train": torch.arange(5)})
    assert r.read_config() == {"p": 113}
    with r.locked():
        r.save_checkpoint(2, model_tensors(2), resume_tensors(2))
    src = Path(store_mod.__file__).read_text()
    assert "import pickle" not in src and "torch.load(" not in src and "torch.save(" not in src
