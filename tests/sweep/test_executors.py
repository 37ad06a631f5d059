"""Sweep executors (grokinterp.sweep.executors): worker processes and Ray give the parameters of the runs
trained in this process."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import torch

from grokinterp.sweep.driver import run_sweep
from grokinterp.sweep.read import load_sweep
from grokinterp.sweep.spec import load_spec
from tests.sweep.helpers import GRID, NAMES, TINY_SET, write_spec


def final_params(sweep_dir: Path) -> dict[str, dict[str, torch.Tensor]]:
    sw = load_sweep(sweep_dir)
    return {r.name: sw.run(r.name).state_dict() for r in sw.runs}


def assert_same_params(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].keys() == b[name].keys()
        for k in a[name]:
            assert torch.equal(a[name][k], b[name][k]), (name, k)


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
    # a cluster address left in the environment (or in /tmp/ray by a cluster started on this machine, as when CI
    # once ran beside one) is not for a local sweep: it starts its own instance
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")
    spec = load_spec(write_spec(tmp_path / "spec.toml", set_=TINY_SET, grid=GRID))
    # one task in flight: one Ray worker imports torch and TransformerLens, not one per CPU
    records = run_sweep(spec, tmp_path / "out", executor="ray", jobs=1, progress=False)
    assert [r["name"] for r in records] == NAMES and all(r["state"] == "done" for r in records)
    assert_same_params(final_params(tiny_sweep[0]), final_params(tmp_path / "out"))


def _kill_node_when_two_runs_are_midway(cluster, node, out: Path, killed: list[list[str]], timeout: float) -> None:
    """Remove `node` (all its processes) as soon as two runs have a checkpoint and no status: with one CPU a
    node, one of them is training there."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = sorted((out / "runs").glob("*")) if (out / "runs").is_dir() else []
        midway = [p.name for p in runs if any((p / "ckpt").glob("step_*"))
                  and not (out / "status" / f"{p.name}.json").exists()]
        if len(midway) >= 2:
            cluster.remove_node(node)
            killed.append(midway)
            return
        time.sleep(0.02)


@pytest.mark.slow
def test_a_ray_sweep_survives_losing_a_node(tmp_path, monkeypatch):
    """A two-node Ray cluster on this host (Ray's own test cluster: a head and a second node, one CPU each);
    the second node is removed, with its raylet and workers, while it trains a run. Ray retries the lost task
    on the head, where the run resumes from its last checkpoint: the sweep finishes with every run done, and
    every run's parameters and metrics equal those of the same sweep trained without a kill."""
    pytest.importorskip("ray")
    import threading

    from ray.cluster_utils import Cluster

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # Ray's workers run one thread a CPU: the same reductions here
    spec = load_spec(write_spec(tmp_path / "spec.toml", set_={**TINY_SET, "train.steps": 400, "train.ckpt_every": 50},
                                grid=GRID))
    run_sweep(spec, tmp_path / "plain", progress=False)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        second = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        killed: list[list[str]] = []
        killer = threading.Thread(target=_kill_node_when_two_runs_are_midway,
                                  args=(cluster, second, tmp_path / "ray", killed, 120.0), daemon=True)
        killer.start()
        records = run_sweep(spec, tmp_path / "ray", executor="ray", address=cluster.address, jobs=2,
                            progress=False)
        killer.join()
    finally:
        import ray

        ray.shutdown()
        cluster.shutdown()
    assert killed, "the second node was never removed mid-run"
    assert [r["name"] for r in records] == NAMES and all(r["state"] == "done" for r in records), records
    assert_same_params(final_params(tmp_path / "plain"), final_params(tmp_path / "ray"))
    plain, ray_sweep = load_sweep(tmp_path / "plain"), load_sweep(tmp_path / "ray")
    for name in NAMES:
        rows = [{k: v for k, v in r.items() if k != "wall_time"} for r in plain.run(name).metrics]
        assert rows == [{k: v for k, v in r.items() if k != "wall_time"} for r in ray_sweep.run(name).metrics]


def _stop_when_training(sweep_dir: Path, stop) -> threading.Thread:
    """Call `stop()` from a thread once a run of the sweep has logged a metrics row (it is in its loop)."""
    def watch():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(p.stat().st_size for p in sweep_dir.glob("runs/*/metrics.jsonl")):
                stop()
                return
            time.sleep(0.05)
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("how", ["sigint-to-a-background-sweep", "sigterm-to-a-worker"])
def test_a_stopped_sweep_with_workers_stops_and_starts_nothing_more(how, tmp_path, monkeypatch):
    """Started as a shell's background job, the sweep process has SIGINT ignored: it must still stop on it.
    A run stopped in its worker (SIGTERM to the workers) stops the sweep, as with jobs=1, instead of the
    next run starting in its place. Either way the running runs checkpoint and say `interrupted`."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    long = {**TINY_SET, "train.steps": 20_000, "train.ckpt_every": 500}
    spec = load_spec(write_spec(tmp_path / "spec.toml", set_=long, grid=GRID))
    out = tmp_path / "out"
    if how == "sigint-to-a-background-sweep":
        before = signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop = lambda: os.kill(os.getpid(), signal.SIGINT)  # noqa: E731
    else:
        before = signal.getsignal(signal.SIGINT)
        # every worker: the one whose run trains stops it; one not in a run yet ignores it
        stop = lambda: [os.kill(p.pid, signal.SIGTERM) for p in multiprocessing.active_children()]  # noqa: E731
    try:
        _stop_when_training(out, stop)
        with pytest.raises(KeyboardInterrupt):
            run_sweep(spec, out, jobs=2, progress=False)
    finally:
        signal.signal(signal.SIGINT, before)
    started = sorted(p.name for p in (out / "runs").iterdir())
    assert len(started) == 2  # the two in flight; the other two never started
    sw = load_sweep(out)
    states = {r.name: sw.state(r.name) for r in sw.runs}
    assert all(states[name] == "interrupted" for name in started), states
