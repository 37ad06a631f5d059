"""`grokinterp report RUN [-o FILE] [--steps N ...]`: the figures of the grokking papers from a run, as one
self-contained HTML file (plotly.js inlined; opens with no network). Given a sweep directory (one holding
`sweep.json`), `grokinterp report SWEEP_DIR [--threshold T] [--gap G]` writes the sweep's phase diagram,
run table and accuracy curves instead (`grokinterp.report.sweep`).

`figures` holds the data -> plotly Figure functions (usable from notebooks); `sections` the per-task-family
registry of report sections; `html` the page; `sweep` the sweep report.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path

from grokinterp.models import architecture_of
from grokinterp.report.html import Section, render_html
from grokinterp.report.sections import ReportContext, builders, register
from grokinterp.report.sections.common import run_phases
from grokinterp.tasks import family_of


def _header(ctx: ReportContext, phases: dict | None) -> list[tuple[str, str]]:
    cfg, rows = ctx.run.config, ctx.run.metrics
    t, m, tr = cfg.task, cfg.model, cfg.train
    last = rows[-1] if rows else {}
    head = [
        ("run", str(ctx.run.path)),
        ("task", f"{t.describe()} ({t.family}), "
                 + (f"{t.frac_train:.0%} of pairs in train, " if family_of(t).kind == "pairs" else "")
                 + f"split seed {t.seed}"),
        ("model", architecture_of(m).describe(m)),
        ("optimiser", tr.describe_optimizer()),
        ("steps", f"{ctx.run.steps[-1]} trained, {len(ctx.run.steps)} checkpoints"),
    ]
    if last:
        if "wall_time" in last:  # an imported run (grokinterp.runs.importing) has none
            head.append(("wall time", f"{last['wall_time']:.0f} s"))
        head.append(("final", f"train acc {last['train_acc']:.4f}, test acc {last['test_acc']:.4f}, "
                              f"train loss {last['train_loss']:.3g}, test loss {last['test_loss']:.3g}"))
    if phases:
        head.append(("phases", ", ".join(f"{k} {v if v is not None else '-'}" for k, v in phases.items())))
    return head


def output_path(directory: str | Path, out: str | Path | None = None) -> Path:
    """Where a report goes: `out` (OUT/report.html if `out` is a directory), by default DIRECTORY/report.html."""
    out = Path(out) if out else Path(directory) / "report.html"
    return out / "report.html" if out.is_dir() else out


def build_report(run_path: str | Path, out: str | Path | None = None, steps: list[int] | None = None,
                 progress: bool | None = None, measures: tuple[str, ...] = ()) -> Path:
    """Write the HTML report of the run at `run_path` to `out` (a file, or a directory to write report.html
    into; default RUN/report.html); returns its path. `measures` adds the costlier curves of
    `grokinterp.report.sections.stability` ("hessian", "llc")."""
    from tqdm.auto import tqdm

    from grokinterp.runs.run import load_run
    from grokinterp.runs.store import CheckpointError, atomic_write_bytes

    run = load_run(run_path)
    if not run.steps:
        raise ValueError(f"{run_path} has no checkpoints yet")
    family_builders = builders(run.config.task.family)
    missing = [s for s in steps or [] if s not in run.steps]
    if missing:
        raise ValueError(f"no checkpoint at step(s) {missing} in {run_path} (first {run.steps[0]}, "
                         f"last {run.steps[-1]}, {len(run.steps)} checkpoints)")
    bad = run.failing_steps()
    good = [s for s in run.steps if s not in bad]
    if not good:
        raise CheckpointError(f"every checkpoint of {run_path} fails verification ({len(bad)} files)")
    steps = [s for s in steps if s not in bad] if steps else [good[-1]]
    if not steps:
        raise CheckpointError(f"the checkpoint(s) asked for fail verification: {'; '.join(bad.values())}")
    why = "; ".join(f"step {s}: {reason}" for s, reason in sorted(bad.items()))
    skipped = [Section("Skipped checkpoints", [], f"{len(bad)} checkpoint(s) fail verification and are left out "
                       f"of every figure: {why}")] if bad else []
    for s, why in sorted(bad.items()):
        print(f"warning: skipping step {s}: {why}", file=sys.stderr)
    bar = tqdm(total=len(family_builders), desc="report", unit="section", disable=None if progress is None
               else not progress)
    ctx = ReportContext(run=run, steps=steps, progress=lambda msg: bar.set_postfix_str(msg), measures=tuple(measures))
    sections: list[Section] = list(skipped)
    for build in family_builders:
        sections += build(ctx)
        bar.update(1)
    bar.close()
    phases = None
    if ctx.cache.get("progress") is not None:
        phases = run_phases(ctx)
    elif family_of(run.config.task).kind == "sampled":
        from grokinterp.progress import phase_changes

        total = phase_changes(run).total
        phases = {"test-loss transition": None if total is None else total.step}
    page = render_html(f"grokinterp report: {Path(run_path).name}", _header(ctx, phases), sections)
    out = output_path(run_path, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, page.encode())
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    from grokinterp.runs.store import CheckpointError

    parser = argparse.ArgumentParser(prog="grokinterp report", description="HTML figure report of a run or a sweep")
    parser.add_argument("run", help="run directory, or sweep directory (one holding sweep.json)")
    parser.add_argument("-o", "--output", default=None,
                        help="output file, or a directory to write report.html into (default RUN/report.html)")
    parser.add_argument("--steps", type=int, nargs="+", default=None,
                        help="checkpoint steps for the per-step figures (default: the last)")
    parser.add_argument("--threshold", type=float, default=0.9,
                        help="sweeps: accuracy that counts as reached, for the phases (default 0.9)")
    parser.add_argument("--gap", type=int, default=1000,
                        help="sweeps: t_test - t_train from which a run is grokking, not comprehension (default 1000)")
    parser.add_argument("--measures", default="",
                        help="comma-separated costlier curves to add: hessian, llc (on mod113 about 20 s and 25 s "
                             "a checkpoint)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    from grokinterp.report.sections.stability import MEASURES

    measures = tuple(m for m in args.measures.split(",") if m)
    if any(m not in MEASURES for m in measures):
        return _error(f"--measures takes {', '.join(MEASURES)}, got {args.measures!r}")
    run = Path(args.run)
    if run.exists() and not run.is_dir():
        return _error(f"{run} is a file, not a run or sweep directory")
    out = output_path(run, args.output)
    hint = "; pass -o FILE to write the report elsewhere" if args.output is None else ""
    blocked = _unwritable(out.parent) if run.is_dir() else None  # fail now, not after minutes of figures
    if blocked is not None:
        return _error(f"cannot write {out}: {blocked} is not writable{hint}")
    t0 = time.perf_counter()
    try:
        if (run / "sweep.json").exists():
            from grokinterp.report.sweep import build_sweep_report

            if args.steps:
                raise ValueError("--steps is for run reports; a sweep report has no per-step figures")
            out = build_sweep_report(run, out, threshold=args.threshold, gap=args.gap)
        else:
            out = build_report(run, out, args.steps, progress=False if args.no_progress else None, measures=measures)
    except OSError as e:
        if e.strerror is None:  # raised with a message of ours, e.g. "no run at PATH"
            return _error(str(e))
        writing = e.filename is None or Path(e.filename).parent == out.parent  # the report or its temp file
        where = "" if writing else f" ({e.filename})"
        denied = writing and e.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
        return _error(f"report not written to {out}: {e.strerror}{where}{hint if denied else ''}")
    except (CheckpointError, ValueError) as e:
        return _error(str(e))
    print(f"report written to {out} ({out.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - t0:.0f} s)")
    return 0


def _unwritable(directory: Path) -> Path | None:
    """`directory`, or its nearest existing parent if it does not exist yet, when no file can be created there."""
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    return None if os.access(directory, os.W_OK) else directory


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


__all__ = ["ReportContext", "Section", "build_report", "builders", "main", "register", "render_html"]
