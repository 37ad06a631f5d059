"""The sweep driver: `run_sweep` expands a spec, prepares the sweep directory (`sweep.json`, `runs/`,
`status/`, the `.lock` of the running sweep command), skips the runs whose status says done and hands the others
to an executor; `format_record` and `summary` are the command's lines.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from grokinterp.config import ConfigError
from grokinterp.runs.store import RunLockedError, RunStore, atomic_write_json
from grokinterp.sweep.executors import make_executor
from grokinterp.sweep.jobs import Job, batch_units, read_status, status_file
from grokinterp.sweep.read import FORMAT, read_sweep_json
from grokinterp.sweep.spec import SweepRun, SweepSpec, expand


def _prepare_dir(spec: SweepSpec, runs: list[SweepRun], sweep_dir: Path) -> None:
    """Write sweep.json, refusing a directory that holds another sweep (another preset or [set])."""
    if (sweep_dir / "config.json").exists():
        raise ConfigError(f"{sweep_dir} is a run directory, not a sweep directory; choose another --out")
    new = {"format": FORMAT, "spec": spec.to_dict(),
           "runs": [{"name": r.name, "overrides": r.overrides, "config": r.config.to_dict()} for r in runs]}
    if (sweep_dir / "sweep.json").exists():
        old = read_sweep_json(sweep_dir)["spec"]
        for key in ("preset", "set"):
            if old.get(key) != new["spec"][key]:
                raise ConfigError(f"{sweep_dir} holds another sweep (its {key} is {old.get(key)!r}, this spec's "
                                  f"{new['spec'][key]!r}); choose another --out, or delete it to start over")
    (sweep_dir / "runs").mkdir(parents=True, exist_ok=True)
    (sweep_dir / "status").mkdir(exist_ok=True)
    if not (sweep_dir / "sweep.json").exists() or json.loads(json.dumps(new)) != read_sweep_json(sweep_dir):
        atomic_write_json(sweep_dir / "sweep.json", new)


def run_sweep(spec: SweepSpec, out: str | Path, executor: str = "local", jobs: int | None = None,
              address: str | None = None, progress: bool | None = None, batch: bool = False,
              max_batch: int | None = None, slurm=None) -> list[dict[str, Any]]:
    """Run (or resume) every run of `spec` into the sweep directory `out`; returns one status record per
    run in expansion order (runs already done are not trained again: their record has `skipped` true).

    `batch`: runs that differ only in learning rates, weight decays, init seed or scale train together as
    one vmapped model batch (`grokinterp.train.batched`), at most `max_batch` per batch (default: split evenly
    over the `jobs` workers); the others train one by one.

    `jobs`: local, the number of worker processes (default 1: in this process); ray and slurm, the most tasks
    or jobs in flight (default: all). `slurm`: the `grokinterp.sweep.slurm.SlurmOptions` of the slurm executor.
    Raises ConfigError for a bad spec or directory before anything runs, and
    KeyboardInterrupt after Ctrl-C once the running trainings have checkpointed.
    """
    from tqdm.auto import tqdm

    runs = expand(spec)
    execu = make_executor(executor, jobs, address, slurm)
    sweep_dir = Path(out).absolute()
    sweep_dir.mkdir(parents=True, exist_ok=True)
    lock = RunStore(sweep_dir)  # the sweep's own .lock: one sweep command per directory
    try:
        lock.acquire()
    except RunLockedError:
        pid = (sweep_dir / ".lock").read_text().strip() or "unknown"
        raise ConfigError(f"sweep directory {sweep_dir} is in use by another sweep (pid {pid})") from None
    try:
        _prepare_dir(spec, runs, sweep_dir)
        records: dict[str, dict[str, Any]] = {}
        todo: list[Job] = []
        for r in runs:
            status = read_status(status_file(sweep_dir, r.name))
            if status is not None and status["state"] == "done" and status.get("overrides") == r.overrides:
                records[r.name] = {**status, "skipped": True}
                continue
            todo.append(Job(name=r.name, overrides=r.overrides, config=r.config.to_dict(),
                            run_dir=str(sweep_dir / "runs" / r.name),
                            status_path=str(status_file(sweep_dir, r.name)),
                            stop_when_grokked=spec.stop_when_grokked,
                            steps_after_grokked=spec.steps_after_grokked))
        bar = tqdm(total=len(runs), initial=len(records), unit="run", desc="sweep", dynamic_ncols=True,
                   disable=None if progress is None else not progress)

        def on_done(record: dict[str, Any]) -> None:
            records[record["name"]] = {"skipped": False, **record}
            bar.update(1)
            tqdm.write(f"[{len(records)}/{len(runs)}] {format_record(record)}", file=sys.stderr)

        try:
            if batch:
                per_worker = -(-len(todo) // jobs) if jobs and jobs > 1 else None
                units = batch_units(todo, max_batch or per_worker)
            else:
                units = [(job,) for job in todo]
            execu.run(units, on_done)
        finally:
            bar.close()
        return [records[r.name] for r in runs]
    finally:
        lock.release()


# ------------------------------------------------------------------------------------------- the command's lines


def format_record(record: dict[str, Any]) -> str:
    """One line: name, state, final train/test accuracy (or the error)."""
    final = record.get("final") or {}
    state = "skipped" if record.get("skipped") else record["state"]
    line = f"{record['name']}  {state}"
    if "train_acc" in final:
        line += f"  train_acc {final['train_acc']:.4f}  test_acc {final['test_acc']:.4f}  (step {final['step']})"
    if record.get("error"):
        line += f"  {record['error']}"
    return line


def summary(records: list[dict[str, Any]], wall_s: float) -> str:
    """`N done, M skipped (already done), K failed in T s`."""
    done = sum(1 for r in records if r["state"] == "done" and not r.get("skipped"))
    skipped = sum(1 for r in records if r.get("skipped"))
    failed = sum(1 for r in records if r["state"] == "failed")
    return f"{done} done, {skipped} skipped (already done), {failed} failed in {wall_s:.1f} s"
