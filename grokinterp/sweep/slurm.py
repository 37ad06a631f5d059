"""The SLURM executor of `grokinterp sweep --executor slurm`, through submitit (`pip install 'grokinterp[slurm]'`).

Each unit of work (one run, or a model batch of runs) is one SLURM job running `grokinterp.sweep.jobs.run_batch`,
the same function the local and Ray executors run; the sweep directory must be on a filesystem the compute nodes see
at the same path. submitit's own files (job scripts, logs, pickled results) go to `folder` (SWEEP_DIR/slurm by
default). With `cluster="local"` submitit runs the jobs as processes on this machine, which is how the tests run it
(and how a spec can be tried before it goes to a cluster).

Restarts: killing the sweep command does not cancel jobs already on the cluster. Running it again skips runs
whose status says done; a run whose directory is still locked by a job of the earlier command is waited for,
not submitted twice, and is then skipped if that job finished it. Ctrl-C cancels the jobs this command
submitted (SIGTERM lets a training checkpoint first); every run resumes from its checkpoints next time.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from grokinterp.config import ConfigError
from grokinterp.runs.store import RunLockedError, RunStore
from grokinterp.sweep.jobs import Job, OnDone, failed_records, read_status, run_batch

SUBMITIT_MISSING = "the slurm executor needs submitit: pip install 'grokinterp[slurm]'"
CLUSTERS = ("slurm", "local")


@dataclass(frozen=True)
class SlurmOptions:
    """What each job asks the scheduler for. `partition` None: the cluster's default."""

    folder: str | None = None  # submitit's files; None: SWEEP_DIR/slurm
    partition: str | None = None
    time_min: int = 60
    gpus: int = 0
    cpus: int = 1
    mem_gb: float | None = None
    cluster: str = "slurm"  # "local": run the jobs as processes on this machine (testing)
    max_in_flight: int | None = None
    poll_s: float | None = None  # how often job states are read; None: 1 s on SLURM, 0.1 s for local jobs


class SlurmExecutor:
    """Submits every unit as a job through submitit and collects the status records as jobs end."""

    def __init__(self, options: SlurmOptions) -> None:
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise ConfigError(SUBMITIT_MISSING) from None
        if options.cluster not in CLUSTERS:
            raise ConfigError(f"unknown SLURM cluster {options.cluster!r} (known: {', '.join(CLUSTERS)})")
        for name in ("time_min", "cpus"):
            if getattr(options, name) < 1:
                raise ConfigError(f"--{name.replace('_min', '')} must be >= 1, got {getattr(options, name)}")
        if options.gpus < 0:
            raise ConfigError(f"--gpus must be >= 0, got {options.gpus}")
        self.options = options

    def _executor(self, folder: Path):
        import submitit

        o = self.options
        ex = submitit.AutoExecutor(folder=str(folder), cluster=o.cluster)
        params: dict[str, Any] = {"timeout_min": o.time_min, "cpus_per_task": o.cpus, "name": "grokinterp-sweep"}
        if o.gpus:
            params["gpus_per_node"] = o.gpus
        if o.mem_gb is not None:
            params["mem_gb"] = o.mem_gb
        if o.partition:
            params["slurm_partition"] = o.partition
        ex.update_parameters(**params)
        return ex

    def run(self, units: list[tuple[Job, ...]], on_done: OnDone) -> None:
        if not units:
            return
        sweep_dir = Path(units[0][0].status_path).parent.parent
        folder = Path(self.options.folder) if self.options.folder else sweep_dir / "slurm"
        ex = None  # made at the first submission: nothing is written for a sweep that submits nothing
        poll = self.options.poll_s or (0.1 if self.options.cluster == "local" else 1.0)
        queue = [tuple(replace(job, threads=self.options.cpus) for job in unit) for unit in units]
        running: dict[Any, tuple[Job, ...]] = {}
        try:
            while queue or running:
                waiting = []
                for unit in queue:
                    if self.options.max_in_flight is not None and len(running) >= self.options.max_in_flight:
                        waiting.append(unit)
                    elif any(held_elsewhere(job.run_dir) for job in unit):  # by an earlier command's job
                        waiting.append(unit)
                    elif all(_done(job) for job in unit):  # ...which has finished it meanwhile
                        for job in unit:
                            on_done({**read_status(Path(job.status_path)), "skipped": True})
                    else:
                        ex = ex or self._executor(folder)
                        running[ex.submit(run_batch, unit)] = unit
                queue = waiting
                for handle in [h for h in running if h.done()]:
                    unit = running.pop(handle)
                    try:
                        records = handle.result()
                    except Exception as e:  # the job failed outside training (killed, timed out, lost node)
                        records = failed_records(unit, e)
                    for record in records:
                        on_done(record)
                if queue or running:
                    time.sleep(poll)
        except KeyboardInterrupt:
            for handle in running:
                with contextlib.suppress(Exception):
                    handle.cancel(check=False)
            raise


def held_elsewhere(run_dir: str | Path) -> bool:
    """True while another process holds the run directory's lock (a training in progress)."""
    if not (Path(run_dir) / ".lock").exists():
        return False
    store = RunStore(run_dir)
    try:
        store.acquire()
    except RunLockedError:
        return True
    store.release()
    return False


def _done(job: Job) -> bool:
    status = read_status(Path(job.status_path))
    return status is not None and status["state"] == "done" and status.get("overrides") == job.overrides
