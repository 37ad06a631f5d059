"""Sweeps: many runs of one preset, with values varied over a grid, on this machine or on a Ray cluster.

    grokinterp sweep SPEC [--out DIR] [--executor local|ray|slurm] [--jobs N] [--address ADDR] [--batch]
                          [--max-batch N] [--no-progress]
                          [--partition P] [--time MIN] [--gpus N] [--cpus N] [--mem-gb G] [--slurm-folder DIR]

(also `python -m grokinterp.sweep`). SPEC is a TOML file (docs/sweeps.md; examples in configs/sweeps/)::

    preset = "mod113-small"           # the base config (grokinterp.presets)
    out = "checkpoints/my-sweep"      # optional sweep directory, relative to the working directory
    stop_when_grokked = false         # optional, passed to train()
    steps_after_grokked = 0           # optional: train this many steps past the grokked step (implies the stop)
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
    SWEEP_DIR/runs/NAME/            a run directory (grokinterp.runs.store), loadable with grokinterp.load_run
    SWEEP_DIR/status/NAME.json      written when a run ends: state done | failed | interrupted, the error
                                    and its traceback, wall_s, the final metrics row, the overrides
    SWEEP_DIR/.lock                 flock of the running sweep command

Resume: running the sweep again skips every run whose status says done (its directory is not opened) and
calls train() on the others, which continues each from its latest checkpoint; failed runs are retried.
A failure inside one run (an exception in its training) is recorded in its status file and the sweep
goes on. Executors: `local` trains in this process (jobs=1) or in `jobs` spawned worker processes;
`ray` submits the same per-run function as Ray tasks (one CPU each) to a local Ray instance or, with
`address`, to a cluster whose nodes see the sweep directory at the same path; `slurm` submits it as SLURM jobs
through submitit (`grokinterp.sweep.slurm`; the same shared-path rule). With `--batch`, runs that
differ only in learning rates, weight decays, init seed or scale are trained together as one
`torch.func` model batch (`grokinterp.train.batched`), a unit of work for any executor.

The modules, each importing only modules listed above it (`slurm` only `jobs`; `executors` imports `slurm`
when the slurm executor is asked for):

    spec        SweepSpec, load_spec: the TOML spec; expand, SweepRun, format_value: its runs and their names
    jobs        Job, run_one, run_batch, batch_units: what a worker trains; the status files of ended runs
    read        Sweep, load_sweep: reading a sweep directory
    slurm       SlurmExecutor, SlurmOptions: the slurm executor (submitit)
    executors   InlineExecutor, ProcessExecutor, RayExecutor, make_executor
    driver      run_sweep: prepare the sweep directory, skip done runs, run the others; format_record, summary
    __main__    main: the command line

and what a sweep's runs measure together, read by the sweep report (`grokinterp.report.sweep`):

    regimes     Liu et al.'s regime of every run and their grid (classify_run, regime_grid, sweep_regimes)
    fractions   Power et al.'s steps to 99% against the training fraction (fraction_series, series_summary)
    omnigrok    Omnigrok's LU landscape and critical training-set size (lu_points, critical_size)

The names below are re-exported here; those of `executors`, `driver` and `__main__` are imported on first
use, so that a worker or a SLURM job importing `grokinterp.sweep.jobs` does not load them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from grokinterp.sweep.jobs import Job, OnDone, batch_units, failed_records, read_status, run_batch, run_one
from grokinterp.sweep.read import FORMAT, Sweep, load_sweep
from grokinterp.sweep.spec import SPEC_KEYS, SweepRun, SweepSpec, expand, format_value, load_spec

if TYPE_CHECKING:
    from grokinterp.sweep.__main__ import main
    from grokinterp.sweep.driver import format_record, run_sweep, summary
    from grokinterp.sweep.executors import (
        EXECUTORS,
        RAY_MISSING,
        InlineExecutor,
        ProcessExecutor,
        RayExecutor,
        make_executor,
    )

__all__ = [
    "FORMAT", "SPEC_KEYS", "SweepSpec", "SweepRun", "load_spec", "expand", "format_value",
    "Job", "OnDone", "run_one", "run_batch", "batch_units", "failed_records", "read_status",
    "Sweep", "load_sweep",
    "EXECUTORS", "RAY_MISSING", "InlineExecutor", "ProcessExecutor", "RayExecutor", "make_executor",
    "format_record", "run_sweep", "summary",
    "main",
]
_EXECUTORS = {"EXECUTORS", "RAY_MISSING", "InlineExecutor", "ProcessExecutor", "RayExecutor", "make_executor"}
_DRIVER = {"format_record", "run_sweep", "summary"}


def __getattr__(name: str) -> Any:
    """The names of `executors`, `driver` and `__main__`, imported on first use."""
    if name in _EXECUTORS:
        from grokinterp.sweep import executors as module
    elif name in _DRIVER:
        from grokinterp.sweep import driver as module
    elif name == "main":
        from grokinterp.sweep import __main__ as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
