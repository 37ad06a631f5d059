"""Oversubscription (grokinterp.train.cores): a training started while other grokinterp trainings already use
the cores says so in one line and how to limit threads; a sweep's own jobs, which split the cores, never warn;
registrations of processes that have died are dropped."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from grokinterp.train.cores import (
    Training,
    other_trainings,
    oversubscription_message,
    registered,
    usable_cores,
)
from tests.helpers import REPO, TINY, as_set_args
from tests.sweep.helpers import GRID, TINY_SET, write_spec


def test_the_message_is_one_line_only_when_threads_exceed_the_cores():
    assert oversubscription_message(2, [], cores=2) is None
    assert oversubscription_message(1, [Training(pid=11, threads=1)], cores=2) is None
    line = oversubscription_message(2, [Training(pid=4242, threads=2)], cores=2)
    assert line is not None and "\n" not in line
    assert "pid 4242 with 2 threads" in line and "2 cores" in line and "OMP_NUM_THREADS=1" in line
    many = oversubscription_message(1, [Training(pid=i, threads=1) for i in range(5)], cores=4)
    assert "and 2 more" in many and "OMP_NUM_THREADS=1" in many


@pytest.fixture
def sleeper():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_registration_lasts_as_long_as_the_block_and_dead_processes_are_dropped(tmp_path, sleeper):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout.strip()
    (tmp_path / f"{finished}.json").write_text(f'{{"pid": {finished}, "threads": 8}}')
    (tmp_path / f"{sleeper}.json").write_text(f'{{"pid": {sleeper}, "threads": 3}}')
    (tmp_path / "junk.json").write_text("{not json")
    with registered(1, directory=tmp_path, warn=False) as others:
        assert others == [Training(sleeper, 3)]
        assert (tmp_path / f"{os.getpid()}.json").exists()
        assert not (tmp_path / f"{finished}.json").exists()  # its process has ended
    assert not (tmp_path / f"{os.getpid()}.json").exists()
    assert other_trainings(tmp_path) == [Training(sleeper, 3)]


def test_a_stopped_training_uses_no_core_until_it_continues(tmp_path, sleeper):
    import signal
    import time

    (tmp_path / f"{sleeper}.json").write_text(f'{{"pid": {sleeper}, "threads": 2}}')
    os.kill(sleeper, signal.SIGSTOP)
    try:
        for _ in range(100):  # the state changes asynchronously
            if not other_trainings(tmp_path):
                break
            time.sleep(0.01)
        assert other_trainings(tmp_path) == []
        assert (tmp_path / f"{sleeper}.json").exists()  # kept: it runs again once continued
    finally:
        os.kill(sleeper, signal.SIGCONT)
    for _ in range(100):
        if other_trainings(tmp_path):
            break
        time.sleep(0.01)
    assert other_trainings(tmp_path) == [Training(sleeper, 2)]


def env_with(active, threads: int) -> dict:
    return {**os.environ, "GROKINTERP_ACTIVE_DIR": str(active), "OMP_NUM_THREADS": str(threads),
            "PYTHONPATH": str(REPO)}


def test_a_training_beside_another_says_so_in_one_line(tmp_path, sleeper):
    active = tmp_path / "active"
    active.mkdir()
    (active / f"{sleeper}.json").write_text(f'{{"pid": {sleeper}, "threads": {usable_cores()}}}')
    cmd = [sys.executable, "-m", "grokinterp.train", "mod113", "--out", str(tmp_path / "run"), "--no-progress",
           *as_set_args({**TINY, "train.steps": 5})]
    proc = subprocess.run(cmd, env=env_with(active, 1), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "oversubscribed" in ln]
    assert len(lines) == 1 and f"pid {sleeper}" in lines[0] and "OMP_NUM_THREADS=" in lines[0]
    (active / f"{sleeper}.json").unlink()  # alone again: nothing to say
    proc = subprocess.run(cmd[:5] + [str(tmp_path / "run2")] + cmd[6:], env=env_with(active, 1),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "oversubscribed" not in proc.stderr, proc.stderr


def test_a_sweeps_jobs_split_the_cores_and_do_not_warn(tmp_path):
    # runs of a few seconds, so that the two workers' trainings overlap (with 30 steps they may not, and a
    # worker given every core would go unnoticed)
    spec = write_spec(tmp_path / "spec.toml", set_={**TINY_SET, "train.steps": 600, "train.ckpt_every": 300},
                      grid=GRID)
    cmd = [sys.executable, "-m", "grokinterp", "sweep", str(spec), "--out", str(tmp_path / "out"), "--jobs",
           str(max(2, usable_cores()))]
    env = env_with(tmp_path / "active", usable_cores())
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "oversubscribed" not in proc.stderr
