"""Executors: where the units of a sweep (one run, or a model batch of runs) are trained.

`local` trains in this process (`InlineExecutor`, jobs=1) or in `jobs` spawned worker processes
(`ProcessExecutor`); `ray` submits the same per-unit function (`grokinterp.sweep.jobs.run_batch`) as Ray tasks,
one CPU each, to a local Ray instance or to the cluster at `address`; `slurm` submits it as SLURM jobs through
submitit (`grokinterp.sweep.slurm`). Each calls `on_done` with the status record of every run as it ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from dataclasses import replace
from typing import Any

from grokinterp.config import ConfigError
from grokinterp.sweep.jobs import Job, OnDone, failed_records, one_line, run_batch
from grokinterp.train.cores import usable_cores

EXECUTORS = ("local", "ray", "slurm")
RAY_MISSING = "the ray executor needs ray: pip install 'grokinterp[ray]'"


class InlineExecutor:
    """Runs units (one run, or a model batch of runs) one after another in this process (local, jobs=1).
    train() and train_batched() handle Ctrl-C themselves."""

    def run(self, units: list[tuple[Job, ...]], on_done: OnDone) -> None:
        for unit in units:
            records = run_batch(unit)
            for record in records:
                on_done(record)
            if any(r["state"] == "interrupted" for r in records):
                raise KeyboardInterrupt


class ProcessExecutor:
    """Runs jobs in `n` spawned worker processes, at most `n` in flight, each worker with
    cores // n torch threads (the cores this process may use; capped by OMP_NUM_THREADS when it is set), so
    that the jobs never oversubscribe the cores (`grokinterp.train.cores`). SIGINT or SIGTERM to this process,
    or a run stopped in a worker, stops the sweep once the runs in training have checkpointed."""

    def __init__(self, n: int) -> None:
        self.n = n
        threads = max(1, usable_cores() // n)
        with contextlib.suppress(ValueError):
            threads = min(threads, max(1, int(os.environ.get("OMP_NUM_THREADS", threads))))
        self.threads = threads

    def run(self, units: list[tuple[Job, ...]], on_done: OnDone) -> None:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        if not units:
            return
        n = min(self.n, len(units))
        queue = [tuple(replace(job, threads=self.threads) for job in unit) for unit in units]
        pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init, initargs=(os.getpid(),))
        running: dict = {}
        old = _interruptible()
        try:
            while queue or running:
                while queue and len(running) < n:
                    unit = queue.pop(0)
                    running[pool.submit(run_batch, unit)] = unit
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                stopped = False
                for fut in done:
                    for record in _result(fut, running.pop(fut)):
                        on_done(record)
                        stopped = stopped or record["state"] == "interrupted"
                if stopped:  # a worker's run was told to stop (SIGINT or SIGTERM): stop the sweep as jobs=1 does
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            # stop submitting; runs in training get SIGTERM (train() then checkpoints and returns), until
            # every one has returned; idle workers ignore it
            while running:
                for pid in list(getattr(pool, "_processes", None) or {}):
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGTERM)
                done, _ = wait(running, timeout=1.0)
                for fut in done:
                    for record in _result(fut, running.pop(fut)):
                        on_done(record)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for sig, handler in old.items():
                signal.signal(sig, handler)


def _interrupt(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


def _interruptible() -> dict:
    """SIGINT and SIGTERM raise KeyboardInterrupt in this (the sweep's) process, also where it started with
    SIGINT ignored, as a shell's background job does; returns the handlers to restore. Outside the main
    thread signals cannot be handled: nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}


def _result(fut, unit: tuple[Job, ...]) -> list[dict[str, Any]]:
    try:
        return fut.result()
    except Exception as e:  # the worker died (BrokenProcessPool) or could not run the job
        return failed_records(unit, e)


def _worker_init(parent_pid: int) -> None:
    """Worker processes: Ctrl-C and SIGTERM are the parent's to handle (while a run trains, train()
    installs its own handlers, which checkpoint and stop); exit if the parent dies (e.g. SIGKILL)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _exit_with_parent(parent_pid: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(1)  # run directories are crash-safe: the run resumes from its last checkpoint


class RayExecutor:
    """Submits every job as a Ray task (num_cpus=1) to the cluster at `address` or a local Ray instance;
    `max_in_flight` (if given) caps the tasks submitted at once."""

    def __init__(self, address: str | None = None, max_in_flight: int | None = None) -> None:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ConfigError(RAY_MISSING) from None
        self.address = address
        self.max_in_flight = max_in_flight

    def run(self, units: list[tuple[Job, ...]], on_done: OnDone) -> None:
        import ray

        if not units:
            return
        started = not ray.is_initialized()
        if started:
            try:
                if self.address:
                    ray.init(address=self.address, log_to_driver=False)
                else:
                    # "local" starts a new instance even when a cluster started on this machine is up
                    ray.init(address="local", include_dashboard=False, log_to_driver=False)
            except (ConnectionError, ValueError, RuntimeError) as e:
                where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
                raise ConfigError(f"cannot start {where}: {one_line(e)}") from None
        # a task whose worker or node dies is retried (on a node still up); its runs resume from their last
        # checkpoints, so a sweep that loses a node finishes with the results it would have had
        task = ray.remote(num_cpus=1, max_retries=3)(run_batch)
        queue, running = list(units), {}
        try:
            while queue or running:
                while queue and (self.max_in_flight is None or len(running) < self.max_in_flight):
                    unit = queue.pop(0)
                    running[task.remote(unit)] = unit
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    unit = running.pop(ref)
                    try:
                        records = ray.get(ref)
                    except Exception as e:  # the task's worker died or the task was lost
                        records = failed_records(unit, e)
                    for record in records:
                        on_done(record)
        except KeyboardInterrupt:
            for ref in running:  # a running task gets a KeyboardInterrupt; its run resumes next time
                with contextlib.suppress(Exception):
                    ray.cancel(ref)
            raise
        finally:
            if started:
                ray.shutdown()


def make_executor(executor: str, jobs: int | None = None, address: str | None = None, slurm=None):
    """The executor named `executor` ("local", "ray" or "slurm", with `slurm` its
    `grokinterp.sweep.slurm.SlurmOptions`); ConfigError if it is unknown or unavailable."""
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r} (known: {', '.join(EXECUTORS)})")
    if jobs is not None and jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    if executor == "slurm":
        from grokinterp.sweep.slurm import SlurmExecutor, SlurmOptions

        if address:
            raise ConfigError("--address is for the ray executor")
        return SlurmExecutor(replace(slurm or SlurmOptions(), max_in_flight=jobs))
    if slurm is not None:
        raise ConfigError("--partition, --time, --gpus, --cpus, --mem-gb and --slurm-folder are for the slurm executor")
    if executor == "ray":
        return RayExecutor(address, jobs)
    if address:
        raise ConfigError("--address is for the ray executor")
    return InlineExecutor() if (jobs or 1) == 1 else ProcessExecutor(jobs)
