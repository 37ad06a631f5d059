"""Jobs: what a worker trains (`Job`: one run; a tuple of jobs: a unit, trained as one model batch), the function
every executor runs (`run_batch`, `run_one`), and the status files a run leaves when it ends.

    SWEEP_DIR/status/NAME.json      written when a run ends: state done | failed | interrupted, the error
                                    and its traceback, wall_s, the final metrics row, the overrides

Workers unpickle jobs and these functions by their module path (`grokinterp.sweep.jobs`), so this module
imports nothing of the executors, the driver or the command.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grokinterp.config import RunConfig
from grokinterp.runs.store import RunStore, atomic_write_json

OnDone = Callable[[dict[str, Any]], None]  # what an executor calls with each status record


# ------------------------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class Job:
    """What a worker needs to train one run: plain data, picklable by name for processes and Ray."""

    name: str
    overrides: dict[str, Any]
    config: dict[str, Any]
    run_dir: str
    status_path: str
    stop_when_grokked: bool = False
    steps_after_grokked: int = 0
    threads: int | None = None  # torch intra-op threads in a worker process (None: leave as is)


def run_one(job: Job) -> dict[str, Any]:
    """Train (or resume) one run and write its status file; an exception in training is recorded as
    `failed`, not raised. Returns the status record."""
    t0 = time.perf_counter()
    error = tb = None
    try:
        if job.threads:
            import torch

            torch.set_num_threads(job.threads)
        from grokinterp.train import train

        result = train(RunConfig.from_dict(job.config), job.run_dir, stop_when_grokked=job.stop_when_grokked,
                       steps_after_grokked=job.steps_after_grokked, progress=False)
        state = "interrupted" if result.interrupted else "done"
    except Exception as e:  # any failure of this run is its own; the sweep goes on
        state, error, tb = "failed", one_line(e), traceback.format_exc()
    return _write_status(job, state, error, tb, time.perf_counter() - t0)


def run_batch(jobs: tuple[Job, ...]) -> list[dict[str, Any]]:
    """Train several runs together (`grokinterp.train.batched.train_batched`, one vmapped model batch) and write
    their status files; when they cannot share a batch (e.g. they stopped at different steps) each is
    trained on its own by `run_one`. A failure of the batch is recorded for each of its runs."""
    if len(jobs) == 1:
        return [run_one(jobs[0])]
    from grokinterp.train.batched import StepMismatch, train_batched

    t0 = time.perf_counter()
    try:
        if jobs[0].threads:
            import torch

            torch.set_num_threads(jobs[0].threads)
        results = train_batched([RunConfig.from_dict(j.config) for j in jobs], [j.run_dir for j in jobs],
                                progress=False)
    except StepMismatch:
        return [run_one(j) for j in jobs]
    except Exception as e:
        tb = traceback.format_exc()
        return [_write_status(j, "failed", one_line(e), tb, time.perf_counter() - t0) for j in jobs]
    wall = time.perf_counter() - t0
    return [_write_status(j, "interrupted" if r.interrupted else "done", None, None, wall)
            for j, r in zip(jobs, results)]


def batch_units(jobs: list[Job], max_batch: int | None = None) -> list[tuple[Job, ...]]:
    """Group jobs that can train as one model batch (same `grokinterp.train.batched.batch_key`, batchable, not
    stopping when grokked), at most `max_batch` per group; the others stay alone."""
    from grokinterp.train.batched import batch_key, why_not_batchable

    groups: dict[str, list[Job]] = {}
    units: list[tuple[Job, ...]] = []
    for job in jobs:
        cfg = RunConfig.from_dict(job.config)
        if job.stop_when_grokked or why_not_batchable(cfg):
            units.append((job,))
        else:
            groups.setdefault(batch_key(cfg), []).append(job)
    for group in groups.values():
        size = max_batch or len(group)
        units += [tuple(group[i:i + size]) for i in range(0, len(group), size)]
    return units


# ------------------------------------------------------------------------------------------- status files


def status_file(sweep_dir: Path, name: str) -> Path:
    """The status file of the run `name` in a sweep directory."""
    return sweep_dir / "status" / f"{name}.json"


def read_status(path: Path) -> dict[str, Any] | None:
    """The status record in `path`; None if there is none yet (or it cannot be read)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "state" in record else None


def one_line(e: BaseException) -> str:
    """An error as one line, `Type: the first line of its message`, for status files and messages."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def _write_status(job: Job, state: str, error: str | None, tb: str | None, wall_s: float) -> dict[str, Any]:
    try:
        rows = RunStore(job.run_dir).read_metrics()
    except (OSError, ValueError):
        rows = []
    record = {"name": job.name, "state": state, "error": error, "traceback": tb, "wall_s": round(wall_s, 3),
              "final": rows[-1] if rows else None, "overrides": job.overrides}
    atomic_write_json(job.status_path, record)
    return record


def failed_records(unit: tuple[Job, ...], e: BaseException) -> list[dict[str, Any]]:
    """The records of runs whose worker itself failed (a crashed process, a lost Ray task)."""
    tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    return [_write_status(job, "failed", one_line(e), tb, 0.0) for job in unit]
