"""Sweeps: many runs of one preset, with values varied over a grid, on this machine or on a Ray cluster.

    grokinterp sweep SPEC [--out DIR] [--executor local|ray|slurm] [--jobs N] [--address ADDR] [--batch]
                          [--max-batch N] [--no-progress]
                          [--partition P] [--time MIN] [--gpus N] [--cpus N] [--mem-gb G] [--slurm-folder DIR]

(also `python -m grokinterp.sweep`). SPEC is a TOML file (docs/sweeps.md)::

    preset = "mod113-small"           # the base config (grokinterp.presets)
    out = "checkpoints/my-sweep"      # optional sweep directory, relative to the working directory
    stop_when_grokked = false         # optional, passed to train()
    [set]                             # overrides of every run, dotted keys as in --set
    "train.steps" = 2000
    [grid]                            # the cartesian product of these values
    "train.lr" = [1e-4, 1e-3]
    "train.weight_decay" = [0.0, 1.0]
    [[runs]]                          # optional explicit override sets, crossed with [grid]
    "model.seed" = 1

Every expanded config is built (and validated) before anything runs. Each run is named after its varied
values (`lr=0.001_weight_decay=1`) and trained by `grokinterp.train.train` into its own run directory::

    SWEEP_DIR/sweep.json            the spec and its expansion: name, overrides and config of every run
    SWEEP_DIR/runs/NAME/            a run directory (grokinterp.store), loadable with grokinterp.load_run
    SWEEP_DIR/status/NAME.json      written when a run ends: state done | failed | interrupted, the error
                                    and its traceback, wall_s, the final metrics row, the overrides
    SWEEP_DIR/.lock                 flock of the running sweep command

Resume: running the sweep again skips every run whose status says done (its directory is not opened) and
calls train() on the others, which continues each from its latest checkpoint; failed runs are retried.
A failure inside one run (an exception in its training) is recorded in its status file and the sweep
goes on. Executors: `local` trains in this process (jobs=1) or in `jobs` spawned worker processes;
`ray` submits the same per-run function as Ray tasks (one CPU each) to a local Ray instance or, with
`address`, to a cluster whose nodes see the sweep directory at the same path; `slurm` submits it as SLURM jobs
through submitit (`grokinterp.slurm`; the same shared-path rule). With `--batch`, runs that
differ only in learning rates, weight decays, init seed or scale are trained together as one
`torch.func` model batch (`grokinterp.batched`), a unit of work for any executor.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grokinterp.config import ConfigError, RunConfig
from grokinterp.store import RunLockedError, RunStore, atomic_write_json

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

FORMAT = "grokinterp-sweep/1"
SPEC_KEYS = ("preset", "out", "stop_when_grokked", "set", "grid", "runs")
EXECUTORS = ("local", "ray", "slurm")
RAY_MISSING = "the ray executor needs ray: pip install 'grokinterp[ray]'"
_MAX_NAME = 120


# ------------------------------------------------------------------------------------------- the spec


@dataclass
class SweepSpec:
    """A parsed sweep spec. `set`, `grid` and each entry of `runs` map dotted config keys to values."""

    preset: str
    set: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    out: str | None = None
    stop_when_grokked: bool = False
    source: str = field(default="sweep spec", compare=False)  # where it came from, for error messages

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({"preset": self.preset, "set": self.set, "grid": self.grid, "runs": self.runs,
                          "out": self.out, "stop_when_grokked": self.stop_when_grokked})

    @classmethod
    def from_dict(cls, d: Any, source: str = "sweep spec") -> SweepSpec:
        """Check the structure of a spec (not its config keys: `expand` does that) and normalise it."""
        if not isinstance(d, dict):
            raise ConfigError(f"{source}: expected a table, got {type(d).__name__}")
        unknown = [k for k in d if k not in SPEC_KEYS]
        if unknown:
            raise ConfigError(f"{source}: unknown key {unknown[0]!r} (known: {', '.join(SPEC_KEYS)})")
        preset = d.get("preset")
        if not isinstance(preset, str) or not preset:
            raise ConfigError(f"{source}: `preset` must be a preset name (see `grokinterp presets`)")
        out = d.get("out")
        if out is not None and not isinstance(out, str):
            raise ConfigError(f"{source}: `out` must be a string, got {out!r}")
        stop = d.get("stop_when_grokked", False)
        if not isinstance(stop, bool):
            raise ConfigError(f"{source}: `stop_when_grokked` must be true or false, got {stop!r}")
        overrides = _flatten(_table(d.get("set", {}), "[set]", source), "[set]", source)
        grid = _flatten(_table(d.get("grid", {}), "[grid]", source), "[grid]", source)
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"{source}: [grid] {key} must be a non-empty list of values, got {values!r}")
        runs = d.get("runs", [])
        if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
            raise ConfigError(f"{source}: `runs` must be an array of tables ([[runs]])")
        runs = [_flatten(r, "[[runs]]", source) for r in runs]
        both = sorted({k for r in runs for k in r} & set(grid))
        if both:
            raise ConfigError(f"{source}: {both[0]} is in both [grid] and [[runs]]; give it in one of them")
        return cls(preset=preset, set=overrides, grid=grid, runs=runs, out=out, stop_when_grokked=stop,
                   source=source)


def _table(value: Any, where: str, source: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {where} must be a table, got {value!r}")
    return value


def _flatten(table: dict[str, Any], where: str, source: str) -> dict[str, Any]:
    """Dotted keys: an unquoted `train.lr = ...` is the nested table {"train": {"lr": ...}} in TOML."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                if isinstance(v, dict):
                    raise ConfigError(f"{source}: {where} {key}.{sub}: expected section.key = value")
                out[f"{key}.{sub}"] = v
        else:
            out[key] = value
    return _jsonable(out)


def _jsonable(x: Any) -> Any:
    """`x` with tuples as lists, as it reads back from JSON (so specs compare equal across a round trip)."""
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def load_spec(path: str | Path) -> SweepSpec:
    """Read a TOML sweep spec; `ConfigError` (one line) for a missing file, bad TOML or a bad structure."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"sweep spec {path} not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read sweep spec {path}: {getattr(e, 'strerror', None) or e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    return SweepSpec.from_dict(data, source=str(path))


# ------------------------------------------------------------------------------------------- expansion


@dataclass
class SweepRun:
    """One run of a sweep: its name, the overrides that vary (on top of the spec's [set]) and its config."""

    name: str
    overrides: dict[str, Any]
    config: RunConfig


def format_value(v: Any) -> str:
    """Short readable form of an override value: 1.0 -> '1', 0.001 -> '0.001', [0.9, 0.98] -> '0.9,0.98'."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, (list, tuple)):
        return ",".join(format_value(x) for x in v)
    return str(v)


def _labels(keys: list[str]) -> dict[str, str]:
    """Each dotted key's label in run names: its last component, or the full key where two share it."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}


_UNSAFE = re.compile(r"[^A-Za-z0-9._,=+-]+")


def _run_name(overrides: dict[str, Any], labels: dict[str, str]) -> str:
    if not overrides:
        return "base"
    name = "_".join(f"{labels[k]}={format_value(v)}" for k, v in overrides.items())
    name = _UNSAFE.sub("-", name).lstrip(".-") or "run"
    if len(name) > _MAX_NAME:  # keep it a valid file name; the hash keeps it unique
        digest = hashlib.sha1(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:8]
        name = f"{name[:_MAX_NAME - 9]}-{digest}"
    return name


def expand(spec: SweepSpec) -> list[SweepRun]:
    """Every run of the spec, in grid order (first key slowest) crossed with [[runs]], each config built
    and validated: a ConfigError names the run and the key before anything is trained."""
    from grokinterp.presets import get_preset

    try:
        base = get_preset(spec.preset)
    except ConfigError as e:
        raise ConfigError(f"{spec.source}: {e}") from None
    try:
        base.with_overrides(spec.set)
    except ConfigError as e:
        raise ConfigError(f"{spec.source}: [set]: {e}") from None
    keys = list(spec.grid) + [k for k in dict.fromkeys(k for r in spec.runs for k in r)]
    labels = _labels(keys)
    combos = [dict(zip(spec.grid, values)) for values in itertools.product(*spec.grid.values())]
    entries = spec.runs or [{}]
    runs: list[SweepRun] = []
    seen: dict[str, dict[str, Any]] = {}
    for combo in combos:
        for entry in entries:
            overrides = _jsonable({**combo, **entry})
            name = _run_name(overrides, labels)
            try:
                cfg = base.with_overrides({**spec.set, **overrides})
            except ConfigError as e:
                raise ConfigError(f"{spec.source}: run {name}: {e}") from None
            if name in seen:
                if seen[name] == overrides:
                    raise ConfigError(f"{spec.source}: run {name} appears twice")
                name = next(f"{name}-{i}" for i in itertools.count(2) if f"{name}-{i}" not in seen)
            seen[name] = overrides
            runs.append(SweepRun(name=name, overrides=overrides, config=cfg))
    return runs


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
                       progress=False)
        state = "interrupted" if result.interrupted else "done"
    except Exception as e:  # any failure of this run is its own; the sweep goes on
        state, error, tb = "failed", _one_line(e), traceback.format_exc()
    return _write_status(job, state, error, tb, time.perf_counter() - t0)


def run_batch(jobs: tuple[Job, ...]) -> list[dict[str, Any]]:
    """Train several runs together (`grokinterp.batched.train_batched`, one vmapped model batch) and write
    their status files; when they cannot share a batch (e.g. they stopped at different steps) each is
    trained on its own by `run_one`. A failure of the batch is recorded for each of its runs."""
    if len(jobs) == 1:
        return [run_one(jobs[0])]
    from grokinterp.batched import StepMismatch, train_batched

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
        return [_write_status(j, "failed", _one_line(e), tb, time.perf_counter() - t0) for j in jobs]
    wall = time.perf_counter() - t0
    return [_write_status(j, "interrupted" if r.interrupted else "done", None, None, wall)
            for j, r in zip(jobs, results)]


def batch_units(jobs: list[Job], max_batch: int | None = None) -> list[tuple[Job, ...]]:
    """Group jobs that can train as one model batch (same `grokinterp.batched.batch_key`, batchable, not
    stopping when grokked), at most `max_batch` per group; the others stay alone."""
    from grokinterp.batched import batch_key, why_not_batchable

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


def _one_line(e: BaseException) -> str:
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
    return [_write_status(job, "failed", _one_line(e), tb, 0.0) for job in unit]


# ------------------------------------------------------------------------------------------- executors

OnDone = Callable[[dict[str, Any]], None]


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
    cpu_count // n torch threads (capped by OMP_NUM_THREADS when it is set)."""

    def __init__(self, n: int) -> None:
        self.n = n
        threads = max(1, (os.cpu_count() or 1) // n)
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
        try:
            while queue or running:
                while queue and len(running) < n:
                    unit = queue.pop(0)
                    running[pool.submit(run_batch, unit)] = unit
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    for record in _result(fut, running.pop(fut)):
                        on_done(record)
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
                    ray.init(include_dashboard=False, log_to_driver=False)
            except (ConnectionError, ValueError, RuntimeError) as e:
                where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
                raise ConfigError(f"cannot start {where}: {_one_line(e)}") from None
        task = ray.remote(num_cpus=1)(run_batch)
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
    """The executor named `executor` ("local", "ray" or "slurm", with `slurm` its `grokinterp.slurm.SlurmOptions`);
    ConfigError if it is unknown or unavailable."""
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r} (known: {', '.join(EXECUTORS)})")
    if jobs is not None and jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    if executor == "slurm":
        from grokinterp.slurm import SlurmExecutor, SlurmOptions

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


# ------------------------------------------------------------------------------------------- the sweep


@dataclass
class Sweep:
    """A sweep directory: its spec, its runs (with configs) and the status record of each ended run."""

    path: Path
    spec: SweepSpec
    runs: list[SweepRun]
    statuses: dict[str, dict[str, Any] | None]

    def run_dir(self, name: str) -> Path:
        if name not in self.statuses:
            raise KeyError(f"no run {name!r} in the sweep at {self.path}")
        return self.path / "runs" / name

    def run(self, name: str):
        """`grokinterp.load_run` of the run `name`."""
        from grokinterp.runs import load_run

        return load_run(self.run_dir(name))

    def state(self, name: str) -> str:
        """done | failed | interrupted (from the status file), else unfinished (started) or pending."""
        status = self.statuses.get(name)
        if status is not None:
            return status["state"]
        return "unfinished" if (self.run_dir(name) / "config.json").exists() else "pending"


def _status_path(sweep_dir: Path, name: str) -> Path:
    return sweep_dir / "status" / f"{name}.json"


def read_status(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "state" in record else None


def _read_sweep_json(sweep_dir: Path) -> dict[str, Any]:
    path = sweep_dir / "sweep.json"
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no sweep at {sweep_dir}: sweep.json missing") from None
    except ValueError as e:
        raise ConfigError(f"{path} is corrupt: {e}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a {FORMAT} file")
    return record


def load_sweep(sweep_dir: str | Path) -> Sweep:
    """Open a sweep directory written by `run_sweep` (or `grokinterp sweep`)."""
    sweep_dir = Path(sweep_dir)
    record = _read_sweep_json(sweep_dir)
    spec = SweepSpec.from_dict(record["spec"], source=str(sweep_dir / "sweep.json"))
    runs = [SweepRun(name=r["name"], overrides=r["overrides"], config=RunConfig.from_dict(r["config"]))
            for r in record["runs"]]
    statuses = {r.name: read_status(_status_path(sweep_dir, r.name)) for r in runs}
    return Sweep(path=sweep_dir, spec=spec, runs=runs, statuses=statuses)


def _prepare_dir(spec: SweepSpec, runs: list[SweepRun], sweep_dir: Path) -> None:
    """Write sweep.json, refusing a directory that holds another sweep (another preset or [set])."""
    if (sweep_dir / "config.json").exists():
        raise ConfigError(f"{sweep_dir} is a run directory, not a sweep directory; choose another --out")
    new = {"format": FORMAT, "spec": spec.to_dict(),
           "runs": [{"name": r.name, "overrides": r.overrides, "config": r.config.to_dict()} for r in runs]}
    if (sweep_dir / "sweep.json").exists():
        old = _read_sweep_json(sweep_dir)["spec"]
        for key in ("preset", "set"):
            if old.get(key) != new["spec"][key]:
                raise ConfigError(f"{sweep_dir} holds another sweep (its {key} is {old.get(key)!r}, this spec's "
                                  f"{new['spec'][key]!r}); choose another --out, or delete it to start over")
    (sweep_dir / "runs").mkdir(parents=True, exist_ok=True)
    (sweep_dir / "status").mkdir(exist_ok=True)
    if not (sweep_dir / "sweep.json").exists() or json.loads(json.dumps(new)) != _read_sweep_json(sweep_dir):
        atomic_write_json(sweep_dir / "sweep.json", new)


def run_sweep(spec: SweepSpec, out: str | Path, executor: str = "local", jobs: int | None = None,
              address: str | None = None, progress: bool | None = None, batch: bool = False,
              max_batch: int | None = None, slurm=None) -> list[dict[str, Any]]:
    """Run (or resume) every run of `spec` into the sweep directory `out`; returns one status record per
    run in expansion order (runs already done are not trained again: their record has `skipped` true).

    `batch`: runs that differ only in learning rates, weight decays, init seed or scale train together as
    one vmapped model batch (`grokinterp.batched`), at most `max_batch` per batch (default: split evenly
    over the `jobs` workers); the others train one by one.

    `jobs`: local, the number of worker processes (default 1: in this process); ray and slurm, the most tasks
    or jobs in flight (default: all). `slurm`: the `grokinterp.slurm.SlurmOptions` of the slurm executor.
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
            status = read_status(_status_path(sweep_dir, r.name))
            if status is not None and status["state"] == "done" and status.get("overrides") == r.overrides:
                records[r.name] = {**status, "skipped": True}
                continue
            todo.append(Job(name=r.name, overrides=r.overrides, config=r.config.to_dict(),
                            run_dir=str(sweep_dir / "runs" / r.name),
                            status_path=str(_status_path(sweep_dir, r.name)),
                            stop_when_grokked=spec.stop_when_grokked))
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


# ------------------------------------------------------------------------------------------- the command


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


def _positive_int(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def _slurm_options(args: argparse.Namespace):
    """The SlurmOptions of the command's slurm flags, or None when none is given (the defaults, for slurm)."""
    given = {"partition": args.partition, "time_min": args.time, "gpus": args.gpus, "cpus": args.cpus,
             "mem_gb": args.mem_gb, "folder": args.slurm_folder, "cluster": args.slurm_cluster}
    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        return None
    from grokinterp.slurm import SlurmOptions

    return SlurmOptions(**given)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="grokinterp sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", help="sweep spec (TOML; see docs/sweeps.md)")
    parser.add_argument("--out", default=None, help="sweep directory (default: the spec's `out`, else "
                                                    "checkpoints/SPEC_NAME)")
    parser.add_argument("--executor", choices=EXECUTORS, default="local")
    parser.add_argument("--jobs", type=_positive_int, default=None,
                        help="local: worker processes (default 1, in this process); ray: most tasks in flight")
    parser.add_argument("--address", default=None, help="ray: address of the cluster (default: a local Ray)")
    parser.add_argument("--batch", action="store_true",
                        help="train runs that differ only in lr, weight decay, init seed or scale together "
                             "(one torch.func model batch; fastest for small models)")
    parser.add_argument("--max-batch", type=_positive_int, default=None, help="--batch: most runs per batch")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    slurm = parser.add_argument_group("slurm executor (submitit)")
    slurm.add_argument("--partition", default=None, help="SLURM partition (default: the cluster's)")
    slurm.add_argument("--time", type=_positive_int, default=None, help="time limit of each job in minutes (60)")
    slurm.add_argument("--gpus", type=int, default=None, help="GPUs per job (0)")
    slurm.add_argument("--cpus", type=_positive_int, default=None, help="CPUs per job (1)")
    slurm.add_argument("--mem-gb", type=float, default=None, help="memory per job in GB (the cluster's default)")
    slurm.add_argument("--slurm-folder", default=None, help="submitit's job files and logs (SWEEP_DIR/slurm)")
    slurm.add_argument("--slurm-cluster", choices=("slurm", "local"), default=None,
                       help="local: run the jobs as processes on this machine through submitit (to try a spec)")
    args = parser.parse_args(argv)
    t0, out = time.perf_counter(), args.out
    try:
        spec = load_spec(args.spec)
        out = args.out or spec.out or str(Path("checkpoints") / Path(args.spec).stem)
        if Path(out).exists() and not Path(out).is_dir():
            raise ConfigError(f"{out} is a file, not a sweep directory; choose another --out")
        records = run_sweep(spec, out, executor=args.executor, jobs=args.jobs, address=args.address,
                            progress=False if args.no_progress else None, batch=args.batch,
                            max_batch=args.max_batch, slurm=_slurm_options(args))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the sweep directory cannot be made or written (a failing run is recorded, not raised)
        print(f"error: sweep directory {out}: {e.strerror or e}" + (f" ({e.filename})" if e.filename else ""),
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted after {time.perf_counter() - t0:.1f} s; running trainings wrote their checkpoints. "
              "Run the same command to resume.", file=sys.stderr)
        return 130
    for record in records:
        print(format_record(record))
    print(f"{summary(records, time.perf_counter() - t0)}; sweep directory {out}")
    return 1 if any(r["state"] != "done" for r in records) else 0


if __name__ == "__main__":
    from grokinterp.sweep import main as _main  # the importable module, so workers unpickle jobs by name

    sys.exit(_main())
