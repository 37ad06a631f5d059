"""Sweeps: spec parsing and expansion, the local and Ray executors, failures, kill-and-restart, the CLI and
the sweep report (phase diagram)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from grokinterp import cli
from grokinterp import sweep as sweep_mod
from grokinterp.config import ConfigError
from grokinterp.report.sweep import classify_run, phase_diagram, phase_grid, sweep_phases
from grokinterp.store import RunStore
from grokinterp.sweep import SweepSpec, expand, format_value, load_spec, load_sweep, run_sweep

# 4 tiny runs of ~30 steps: well below a second each on one core
TINY_SET = {
    "task.p": 13, "model.d_model": 16, "model.d_mlp": 32, "model.n_heads": 2, "model.d_head": 8,
    "train.steps": 30, "train.ckpt_every": 10, "train.ckpt_log_points": 0, "train.device": "cpu",
}
GRID = {"train.lr": [1e-3, 3e-3], "train.weight_decay": [0.0, 1.0]}
NAMES = ["lr=0.001_weight_decay=0", "lr=0.001_weight_decay=1", "lr=0.003_weight_decay=0", "lr=0.003_weight_decay=1"]


def write_spec(path: Path, preset: str = "mod113-small", set_: dict | None = None, grid: dict | None = None,
               runs: list[dict] | None = None, extra: str = "") -> Path:
    """A TOML spec (JSON scalars, strings and arrays are valid TOML)."""
    lines = [f"preset = {json.dumps(preset)}", extra]
    for table, values in (("set", set_), ("grid", grid)):
        if values:
            lines.append(f"[{table}]")
            lines += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in values.items()]
    for entry in runs or []:
        lines.append("[[runs]]")
        lines += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in entry.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def final_params(sweep_dir: Path) -> dict[str, dict[str, torch.Tensor]]:
    sw = load_sweep(sweep_dir)
    return {r.name: sw.run(r.name).state_dict() for r in sw.runs}


def assert_same_params(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].keys() == b[name].keys()
        for k in a[name]:
            assert torch.equal(a[name][k], b[name][k]), (name, k)


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    """The 2x2 grid of tiny runs, trained in this process (jobs=1)."""
    root = tmp_path_factory.mktemp("sweep")
    spec = load_spec(write_spec(root / "spec.toml", set_=TINY_SET, grid=GRID))
    records = run_sweep(spec, root / "out", progress=False)
    return root / "out", records


# ------------------------------------------------------------------------------------------- spec


def test_spec_grid_names_and_configs(tmp_path):
    spec = load_spec(write_spec(tmp_path / "s.toml", set_={"train.steps": 2000}, grid=GRID,
                                extra="stop_when_grokked = true"))
    assert spec.preset == "mod113-small" and spec.stop_when_grokked and spec.set == {"train.steps": 2000}
    runs = expand(spec)
    assert [r.name for r in runs] == NAMES  # first key slowest, values as short forms
    assert runs[1].overrides == {"train.lr": 0.001, "train.weight_decay": 1.0}
    cfg = runs[2].config
    assert (cfg.train.lr, cfg.train.weight_decay, cfg.train.steps, cfg.task.p) == (3e-3, 0.0, 2000, 53)


def test_unquoted_dotted_keys_are_the_same_spec(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('preset = "mod113-small"\n[set]\ntrain.steps = 5\n[grid]\ntrain.lr = [0.001, 0.003]\n'
                    'train.weight_decay = [0.0, 1.0]\n')
    spec = load_spec(path)
    assert spec.set == {"train.steps": 5} and spec.grid == GRID
    assert [r.name for r in expand(spec)] == NAMES


def test_runs_crossed_with_grid_and_shared_labels(tmp_path):
    spec = load_spec(write_spec(tmp_path / "s.toml", grid={"task.seed": [0, 1]},
                                runs=[{"model.seed": 1}, {"model.seed": 2, "train.lr": 0.01}]))
    runs = expand(spec)
    # task.seed and model.seed share their last component: both keep the full key
    assert [r.name for r in runs] == ["task.seed=0_model.seed=1", "task.seed=0_model.seed=2_lr=0.01",
                                      "task.seed=1_model.seed=1", "task.seed=1_model.seed=2_lr=0.01"]
    assert runs[3].config.task.seed == 1 and runs[3].config.model.seed == 2 and runs[3].config.train.lr == 0.01
    only_runs = expand(SweepSpec(preset="mod113-small", runs=[{"model.seed": 1}, {"model.seed": 2}]))
    assert [r.name for r in only_runs] == ["seed=1", "seed=2"]
    assert [r.name for r in expand(SweepSpec(preset="mod113-small"))] == ["base"]


def test_names_are_filesystem_safe_and_unique():
    assert format_value(1.0) == "1" and format_value(1e-4) == "0.0001" and format_value(1e-5) == "1e-05"
    assert format_value([0.9, 0.98]) == "0.9,0.98" and format_value(True) == "true" and format_value(None) == "none"
    runs = expand(SweepSpec(preset="mod113-small", grid={"accel.transfer_from": ["a/b", "a b", "a?b"]}))
    names = [r.name for r in runs]
    assert names == ["transfer_from=a-b", "transfer_from=a-b-2", "transfer_from=a-b-3"]
    assert all("/" not in n and " " not in n for n in names)
    with pytest.raises(ConfigError, match="appears twice"):
        expand(SweepSpec(preset="mod113-small", runs=[{"model.seed": 1}, {"model.seed": 1}]))


@pytest.mark.parametrize("kwargs, needle", [
    (dict(grid={"train.wd": [1.0]}), "unknown config key 'train.wd'"),
    (dict(set_={"model.d_modle": 3}), "unknown config key 'model.d_modle'"),
    (dict(grid={"train.lr": [1e-3, -1.0]}), "run lr=-1: train.lr must be > 0"),
    (dict(runs=[{"task.frac_train": 2.0}]), "task.frac_train must be in (0, 1)"),
    (dict(preset="nope"), "unknown preset 'nope'"),
    (dict(grid={"train.lr": 0.1}), "[grid] train.lr must be a non-empty list"),
    (dict(grid={"train.lr": [0.1]}, runs=[{"train.lr": 0.2}]), "train.lr is in both [grid] and [[runs]]"),
    (dict(extra="budget = 3"), "unknown key 'budget'"),
])
def test_bad_specs_raise_config_error(tmp_path, kwargs, needle):
    path = write_spec(tmp_path / "s.toml", **kwargs)
    with pytest.raises(ConfigError) as e:
        expand(load_spec(path))
    assert needle in str(e.value) and str(path) in str(e.value)


# ------------------------------------------------------------------------------------------- running


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


def test_local_jobs2_gives_the_same_parameters(tiny_sweep, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the workers' threads: the same reduction order as here
    spec = load_spec(write_spec(tmp_path / "spec.toml", set_=TINY_SET, grid=GRID))
    records = run_sweep(spec, tmp_path / "out", jobs=2, progress=False)
    assert [r["name"] for r in records] == NAMES and all(r["state"] == "done" for r in records)
    assert_same_params(final_params(tiny_sweep[0]), final_params(tmp_path / "out"))


@pytest.mark.slow
def test_ray_gives_the_same_parameters(tiny_sweep, tmp_path, monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    spec = load_spec(write_spec(tmp_path / "spec.toml", set_=TINY_SET, grid=GRID))
    # one task in flight: one Ray worker imports torch and TransformerLens, not one per CPU
    records = run_sweep(spec, tmp_path / "out", executor="ray", jobs=1, progress=False)
    assert [r["name"] for r in records] == NAMES and all(r["state"] == "done" for r in records)
    assert_same_params(final_params(tiny_sweep[0]), final_params(tmp_path / "out"))


def test_failed_run_is_recorded_and_retried(tmp_path, capsys):
    # a weak run that does not exist only fails when training starts (GrokTransfer loads it then)
    spec = write_spec(tmp_path / "spec.toml", set_=TINY_SET,
                      grid={"accel.transfer_from": ["", str(tmp_path / "no-such-run")]})
    out = tmp_path / "out"
    assert sweep_mod.main([str(spec), "--out", str(out), "--no-progress"]) == 1
    text = capsys.readouterr().out
    assert "1 done, 0 skipped (already done), 1 failed" in text.strip().splitlines()[-1]
    good, bad = (r.name for r in expand(load_spec(spec)))
    assert good == "transfer_from=" and bad.endswith("no-such-run") and "/" not in bad
    status = json.loads((out / "status" / f"{bad}.json").read_text())
    assert status["state"] == "failed" and status["final"] is None
    assert status["error"].startswith("ConfigError: accel.transfer_from") and "\n" not in status["error"]
    assert "Traceback" in status["traceback"]
    assert json.loads((out / "status" / f"{good}.json").read_text())["state"] == "done"
    # a restart skips the done run and tries the failed one again
    records = run_sweep(load_spec(spec), out, progress=False)
    assert [(r["name"], r["state"], r["skipped"]) for r in records] == [(good, "done", True), (bad, "failed", False)]


def _steps(run_dir: Path) -> list[int]:
    return RunStore(run_dir).steps() if (run_dir / "manifest.json").exists() else []


def test_kill_and_restart(tmp_path, capsys):
    """SIGKILL the sweep command after one run is done and another has checkpoints; the restart skips the
    first (untouched), resumes the second from its checkpoints and finishes them all."""
    spec = write_spec(tmp_path / "spec.toml", set_={**TINY_SET, "train.steps": 400, "train.ckpt_every": 50},
                      grid={"model.seed": [0, 1, 2]})
    out = tmp_path / "out"
    names = ["seed=0", "seed=1", "seed=2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(tmp_path / "log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "grokinterp.sweep", str(spec), "--out", str(out),
                                 "--no-progress"], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            done = [n for n in names if (out / "status" / f"{n}.json").exists()]
            started = [n for n in names if n not in done and max(_steps(out / "runs" / n), default=0) >= 50]
            if done and started:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    done = [n for n in names if (out / "status" / f"{n}.json").exists()]
    cut = [n for n in names if n not in done and _steps(out / "runs" / n)]
    assert done and cut and len(done) < len(names), (tmp_path / "log").read_text()
    files = {p: (p.read_bytes(), p.stat().st_mtime_ns) for n in done
             for p in (out / "status" / f"{n}.json", out / "runs" / n / "metrics.jsonl")}
    early = {p: (p.read_bytes(), p.stat().st_mtime_ns) for n in cut
             for s in _steps(out / "runs" / n) for p in [out / "runs" / n / "ckpt" / f"step_{s:08d}.safetensors"]}
    assert max(int(p.stem.split("_")[1]) for p in early) >= 50

    assert sweep_mod.main([str(spec), "--out", str(out), "--no-progress"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith(f"{len(names) - len(done)} done, {len(done)} skipped (already done), 0 failed")
    sw = load_sweep(out)
    assert all(sw.state(n) == "done" for n in names)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files} == files  # skipped: not even opened
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in early} == early  # resumed: earlier ckpts kept
    for n in names:
        rows = sw.run(n).metrics
        assert sw.run(n).steps[-1] == 400 and [r["step"] for r in rows] == list(range(0, 401, 10))


# ------------------------------------------------------------------------------------------- CLI


def _one_line_error(capsys, needle: str) -> None:
    err = capsys.readouterr().err
    assert needle in err, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err


def test_cli_user_mistakes_exit_2(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert cli.main(["sweep", str(tmp_path / "missing.toml"), "--out", str(out)]) == 2
    _one_line_error(capsys, "missing.toml not found")
    (tmp_path / "bad.toml").write_text('preset = "mod113-small"\n[grid\n')
    assert sweep_mod.main([str(tmp_path / "bad.toml"), "--out", str(out)]) == 2
    _one_line_error(capsys, "invalid TOML")
    spec = write_spec(tmp_path / "key.toml", grid={"train.wd": [0.0, 1.0]})
    assert sweep_mod.main([str(spec), "--out", str(out)]) == 2
    _one_line_error(capsys, "unknown config key 'train.wd'")
    assert not out.exists()  # nothing was written for a bad spec
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    spec = write_spec(tmp_path / "ok.toml", set_=TINY_SET)
    assert sweep_mod.main([str(spec), "--out", str(out), "--executor", "ray"]) == 2
    _one_line_error(capsys, "the ray executor needs ray: pip install 'grokinterp[ray]'")
    assert not out.exists()


# ------------------------------------------------------------------------------------------- report


def _rows(train_at: int | None, test_at: int | None, last: int = 6000) -> list[dict]:
    """Accuracy 0.1 before and 1.0 from the given steps, logged every 100 steps."""
    return [{"step": s, "train_acc": 1.0 if train_at is not None and s >= train_at else 0.1,
             "test_acc": 1.0 if test_at is not None and s >= test_at else 0.1} for s in range(0, last + 1, 100)]


def test_phase_grid_planted():
    # x = weight_decay, y = lr; each cell's curves are built to land in one phase
    planted = {  # (lr, wd): (state, t_train, t_test)
        (1e-3, 0.0): ("done", 200, None),  # memorization
        (1e-3, 1.0): ("done", 200, 3000),  # grokking (gap 2800 > 1000)
        (3e-3, 0.0): ("done", None, None),  # confusion
        (3e-3, 1.0): ("done", 200, 500),  # comprehension (gap 300)
        (1e-2, 0.0): ("failed", None, None),
        (1e-2, 1.0): ("interrupted", 200, 500),
    }
    runs = [classify_run(f"lr={lr}_wd={wd}", {"train.lr": lr, "train.weight_decay": wd}, state, _rows(a, b))
            for (lr, wd), (state, a, b) in planted.items()]
    grid = phase_grid(runs, "train.weight_decay", [0.0, 1.0], "train.lr", [1e-3, 3e-3, 1e-2])
    assert grid.labels() == [["memorization", "grokking"], ["confusion", "comprehension"], ["failed", "unfinished"]]
    assert (grid.cells[0][1].t_train, grid.cells[0][1].t_test) == (200, 3000)
    assert (grid.cells[1][1].t_train, grid.cells[1][1].t_test) == (200, 500)
    assert grid.cells[2][1].phase is None and grid.cells[2][1].final["step"] == 6000
    # a smaller gap makes the grokking cell comprehension; a missing cell stays empty
    fast = classify_run("x", {}, "done", _rows(200, 3000), gap=5000)
    assert fast.phase == "comprehension"
    partial = phase_grid(runs[:1], "train.weight_decay", [0.0, 1.0], "train.lr", [1e-3])
    assert partial.labels() == [["memorization", None]]
    fig = phase_diagram(grid)
    heat = fig.data[0]
    assert [list(r) for r in heat.text] == grid.labels()
    assert list(heat.z[0]) == [2, 1] and list(heat.z[2]) == [4, 5]  # codes: the order of PHASES, failed, unfinished
    assert "t_test: 3000" in heat.hovertext[0][1] and "lr=0.001_wd=1.0" in heat.hovertext[0][1]
    assert [t.name for t in fig.data[1:]] == ["comprehension", "grokking", "memorization", "confusion", "failed",
                                              "unfinished"]
    assert list(heat.x) == ["0", "1"] and list(heat.y) == ["0.001", "0.003", "0.01"]


def test_report_of_a_sweep_directory(tiny_sweep, capsys):
    out, _ = tiny_sweep
    assert cli.main(["report", str(out), "--threshold", "0.1", "--gap", "10"]) == 0
    assert "report written to" in capsys.readouterr().out
    html = (out / "report.html").read_text()
    assert "Phase diagram" in html and "Test accuracy" in html
    for name in ("comprehension", "grokking", "memorization", "confusion", *NAMES):
        assert name in html
    runs, _ = sweep_phases(load_sweep(out), threshold=0.1, gap=10)
    assert all(r.phase is not None for r in runs)
    # at the default threshold none of the 30-step runs reaches 90% train accuracy
    runs, _ = sweep_phases(load_sweep(out))
    assert [r.phase for r in runs] == ["confusion"] * 4
    assert cli.main(["report", str(out), "--steps", "10"]) == 2
    assert "--steps is for run reports" in capsys.readouterr().err
