"""The `grokinterp sweep` command (also `python -m grokinterp.sweep`); see `grokinterp.sweep`.

Exit status: 0 every run done, 1 some failed (or were interrupted), 2 a bad spec or sweep directory (one line
on stderr), 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from grokinterp.config import ConfigError
from grokinterp.sweep.driver import format_record, run_sweep, summary
from grokinterp.sweep.executors import EXECUTORS
from grokinterp.sweep.spec import load_spec

DESCRIPTION = "Sweeps: many runs of one preset, with values varied over a grid, on this machine or on a Ray cluster."


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
    from grokinterp.sweep.slurm import SlurmOptions

    return SlurmOptions(**given)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="grokinterp sweep", description=DESCRIPTION)
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
    sys.exit(main())
