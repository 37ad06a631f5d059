"""The sweep driver (grokinterp.sweep.driver): the sweep directory's layout, skipping done runs, one sweep
command per directory, and kill-and-restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from grokinterp.config import ConfigError
from grokinterp.runs.store import RunStore
from grokinterp.sweep.__main__ import main
from grokinterp.sweep.driver import run_sweep
from grokinterp.sweep.read import load_sweep
from grokinterp.sweep.spec import load_spec
from tests.sweep.helpers import GRID, NAMES, TINY_SET, write_spec


def test_local_sweep_layout_and_resume(tiny_sweep, capsys):
    out, records = tiny_sweep
    assert [r["name"] for r in records] == NAMES
    assert all(r["state"] == "done" and not r["skipped"] and r["error"] is None for r in records)
    assert all(r["final"]["step"] == 30 for r in records)
    record = json.loads((out / "sweep.json").read_text())
    assert [r["name"] for r in record["runs"]] == NAMES and record["spec"]["grid"] == GRID
    status = json.loads((out / "status" / f"{NAMES[0]}.json").read_text())
    assert status["state"] == "done" and status["overrides"] == {"train.lr": 0.001, "train.weight_decay": 0.0}
    assert set(status) >= {"name", "state", "error", "wall_s", "final", "overrides"}
    sw = load_sweep(out)
    assert [r.name for r in sw.runs] == NAMES and all(sw.state(n) == "done" for n in NAMES)
    run = sw.run(NAMES[3])
    assert run.config.train.lr == 3e-3 and run.config.train.weight_decay == 1.0 and run.steps[-1] == 30
    # a second invocation skips every done run without touching it
    stamps = {p: p.stat().st_mtime_ns for p in (out / "status").iterdir()}
    stamps.update({p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/manifest.json")})
    again = run_sweep(load_spec(write_spec(out.parent / "spec.toml", set_=TINY_SET, grid=GRID)), out, progress=False)
    assert all(r["skipped"] and r["state"] == "done" for r in again)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    # one sweep command per directory
    lock = RunStore(out)
    lock.acquire()
    try:
        with pytest.raises(ConfigError, match="in use by another sweep"):
            run_sweep(load_spec(out.parent / "spec.toml"), out, progress=False)
    finally:
        lock.release()
    # another [set] on the same directory is refused before anything runs
    other = load_spec(write_spec(out.parent / "other.toml", set_={**TINY_SET, "train.steps": 40}, grid=GRID))
    with pytest.raises(ConfigError, match="holds another sweep"):
        run_sweep(other, out, progress=False)


def _steps(run_dir: Path) -> list[int]:
    return RunStore(run_dir).steps() if (run_dir / "manifest.json").exists() else []


KILL_AT = """
import os, signal, sys
from grokinterp.runs.store import RunStore
from grokinterp.sweep.__main__ import main

name, at = sys.argv[1], int(sys.argv[2])
save = RunStore.save_checkpoint

def save_then_die(self, step, *args, **kwargs):
    save(self, step, *args, **kwargs)
    if self.path.name == name and step == at:
        os.kill(os.getpid(), signal.SIGKILL)

RunStore.save_checkpoint = save_then_die
sys.exit(main(sys.argv[3:]))
"""


def test_kill_and_restart(tmp_path, capsys):
    """SIGKILL the sweep command after one run is done and another has checkpoints; the restart skips the
    first (untouched), resumes the second from its checkpoints and finishes them all."""
    spec = write_spec(tmp_path / "spec.toml", set_={**TINY_SET, "train.steps": 400, "train.ckpt_every": 50},
                      grid={"model.seed": [0, 1, 2]})
    out = tmp_path / "out"
    names = ["seed=0", "seed=1", "seed=2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # the sweep (its runs one by one, in this one process) kills itself right after seed=1's step-150
    # checkpoint: seed=0 is done by then, whatever the machine's speed
    proc = subprocess.run([sys.executable, "-c", KILL_AT, "seed=1", "150", str(spec), "--out", str(out),
                           "--no-progress"], env=env, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    done = [n for n in names if (out / "status" / f"{n}.json").exists()]
    cut = [n for n in names if n not in done and _steps(out / "runs" / n)]
    assert done == ["seed=0"] and cut == ["seed=1"]
    files = {p: (p.read_bytes(), p.stat().st_mtime_ns) for n in done
             for p in (out / "status" / f"{n}.json", out / "runs" / n / "metrics.jsonl")}
    early = {p: (p.read_bytes(), p.stat().st_mtime_ns) for n in cut
             for s in _steps(out / "runs" / n) for p in [out / "runs" / n / "ckpt" / f"step_{s:08d}.safetensors"]}
    assert max(int(p.stem.split("_")[1]) for p in early) == 150

    assert main([str(spec), "--out", str(out), "--no-progress"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith(f"{len(names) - len(done)} done, {len(done)} skipped (already done), 0 failed")
    sw = load_sweep(out)
    assert all(sw.state(n) == "done" for n in names)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files} == files  # skipped: not even opened
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in early} == early  # resumed: earlier ckpts kept
    for n in names:
        rows = sw.run(n).metrics
        assert sw.run(n).steps[-1] == 400 and [r["step"] for r in rows] == list(range(0, 401, 10))
