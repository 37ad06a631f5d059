"""Benchmarks: `python -m grokinterp.bench train [--preset NAME | --all] [--steps 30] [--repeats 3]` (ms/step of
the hooked and default engines against the machine's matmul floor, see `grokinterp.bench.train`); `progress`
(see `grokinterp.bench.progress`); `grok` (a fair race to grok: tuned baselines and every acceleration method
over seeds, see `grokinterp.bench.grok`); `sweep` (many small runs one by one vs batched with torch.func, see
`grokinterp.bench.batched`); `warning` (which measure warns of grokking, scored over a sweep's runs, see
`grokinterp.bench.warning`); `command` (the whole training command against a plain TransformerLens loop,
each in its own process, see `grokinterp.bench.command`); `profile` (where a step's time goes, per operator
group, see `grokinterp.bench.profile`).
"""

from __future__ import annotations

import argparse
import sys

from grokinterp.bench.progress import bench_progress, print_progress
from grokinterp.config import PRECISIONS, ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grokinterp.bench", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("train", help="ms/step of the hooked and default engines against the matmul floor")
    p.add_argument("--preset", default="mod113", help="preset to time (default mod113)")
    p.add_argument("--all", action="store_true", help="every preset (one per distinct training step)")
    p.add_argument("--steps", type=int, default=30, help="timed steps per engine and repeat (default 30)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--loop-steps", type=int, default=100,
                   help="steps of the whole training loop to time after step 100 (0: skip; default 100)")
    p.add_argument("--precision", default="float32",
                   help="train.precision of the default engine (the hooked engine and the floor stay float32)")
    q = sub.add_parser("progress", help="progress measures over all checkpoints: vectorised vs a TL loop")
    q.add_argument("--run", default="checkpoints/mod113", help="a trained mod-113 run (default checkpoints/mod113)")
    q.add_argument("--max-checkpoints", type=int, default=None, help="use about this many, evenly spaced")
    g = sub.add_parser("grok", help="a fair race to 95%% and 99%% test accuracy: tuned AdamW baselines, Grokfast, "
                                    "StableMax, ⊥AdamW, Muon, GrokTransfer, the best combination; several seeds")
    g.add_argument("--preset", default="mod113")
    g.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override the preset for every run, e.g. --set task.frac_train=0.3 (repeatable)")
    g.add_argument("--seeds", type=int, default=3, help="init seeds (model.seed 0..N-1) per variant (default 3)")
    g.add_argument("--max-steps", type=int, default=10_000, help="step budget of every run (default 10000)")
    g.add_argument("--thresholds", default="0.95,0.99", help="test accuracies to time (default 0.95,0.99)")
    g.add_argument("--lrs", default=None, help="baseline learning rates (default: the preset's and 3x it)")
    g.add_argument("--wds", default="1,3,8", help="baseline weight decays (default 1,3,8)")
    g.add_argument("--out", default=None, help="keep the runs here (default: a temporary directory)")
    g.add_argument("--only", default=None, help="comma-separated method names to run (the baselines always run)")
    g.add_argument("--grokfast", default="alpha=0.98,lamb=2.0",
                   help="Grokfast-EMA settings (default alpha=0.98,lamb=2.0)")
    g.add_argument("--transfer-acc", type=float, default=0.6,
                   help="weak model's test accuracy at transfer (default 0.6)")
    g.add_argument("--weak-max-steps", type=int, default=10_000, help="step budget of a weak run (default 10000)")
    g.add_argument("--weak-steps", type=int, default=None,
                   help="train every weak model exactly N steps and transfer its last checkpoint, whatever its "
                        "test accuracy (Xu et al.'s FNN targets), instead of stopping at --transfer-acc")
    g.add_argument("--weak-widths", default="", help="GrokTransfer again at these weak-model embedding widths, "
                                                    "e.g. 1,2,3,4 (default: none)")
    g.add_argument("--csv", default=None, metavar="FILE",
                   help="also write one row per trial: task,method,seed,steps_to_99,wall_s (top threshold)")
    g.add_argument("--task-name", default=None, help="the csv's task column (default: the preset)")
    g.add_argument("--tune-methods", action="store_true",
                   help="tune every method over the baselines' lr x weight-decay grid too (seed 0 picks, as for "
                        "the baseline)")
    w = sub.add_parser("sweep", help="many small runs: one by one vs batched with torch.func (one process)")
    w.add_argument("--preset", default="toy-add")
    w.add_argument("--steps", type=int, default=2000, help="steps per run (default 2000)")
    w.add_argument("--side", type=int, default=5, help="grid side: side x side runs (default 5)")
    w.add_argument("--out", default=None, help="keep the runs here (default: a temporary directory)")
    e = sub.add_parser("warning", help="which measure warns of grokking: every registered measure scored over the "
                                       "runs of a sweep (lead time, false alarms, AUROC)")
    e.add_argument("sweep_dir", help="a finished sweep, e.g. of configs/sweeps/early-warning.toml")
    e.add_argument("--measures", default=None, help="comma-separated measures (default: all registered)")
    e.add_argument("--csv", default=None, metavar="FILE",
                   help="write measure,auroc,lead_median,false_alarms,runs here (default SWEEP_DIR/early-warning.csv, "
                        "which the sweep's report draws)")
    e.add_argument("--sustain", type=int, default=2, help="checkpoints in a row the alarm condition must hold "
                                                         "(default 2)")
    e.add_argument("--early", type=float, default=0.2,
                   help="the AUROC reads each measure at this fraction of the budget (default 0.2)")
    c = sub.add_parser("command", help="the whole training command against a plain TransformerLens loop, each in "
                                       "its own process")
    c.add_argument("--preset", default="repeat-subseq-infinite")
    c.add_argument("--steps", type=int, default=1000, help="training steps of both (default 1000)")
    c.add_argument("--repeats", type=int, default=2, help="interleaved repeats, medians reported (default 2)")
    t = sub.add_parser("plain-tl", help="a plain TransformerLens loop on a preset's model and task (what `command` "
                                        "times)")
    t.add_argument("--preset", default="repeat-subseq-infinite")
    t.add_argument("--steps", type=int, default=1000)
    f = sub.add_parser("profile", help="where a training step's time goes: self time per operator group")
    f.add_argument("--preset", default="mod113")
    f.add_argument("--steps", type=int, default=20, help="profiled steps, after 5 warm-up steps (default 20)")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ConfigError, ValueError) as err:  # a user's mistake: one line, exit code 2
        print(f"error: {err}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    """Run the parsed subcommand; a `ConfigError` or `ValueError` is the user's to fix (`main` prints it)."""
    if args.what == "profile":
        from grokinterp.bench.profile import print_profile, profile_step

        if args.steps < 1:
            raise ValueError("--steps must be >= 1")
        print_profile(args.preset, profile_step(args.preset, args.steps))
        return 0
    if args.what in ("command", "plain-tl"):
        from grokinterp.bench.command import bench_command, plain_tl_loop, print_command

        if args.steps < 1 or getattr(args, "repeats", 1) < 1:
            raise ValueError("--steps and --repeats must be >= 1")
        if args.what == "plain-tl":
            print(f"training loss at step {args.steps}: {plain_tl_loop(args.preset, args.steps):.4g}")
        else:
            print_command(args.preset, args.steps, bench_command(args.preset, args.steps, args.repeats))
        return 0
    if args.what == "warning":
        from pathlib import Path

        from grokinterp.bench.warning import bench_warning, print_warning, write_csv

        if args.sustain < 1 or not 0 <= args.early <= 1:
            raise ValueError("--sustain must be >= 1 and --early in [0, 1]")
        if not (Path(args.sweep_dir) / "sweep.json").exists():
            raise ValueError(f"no sweep at {args.sweep_dir}; run one first: grokinterp sweep "
                             "configs/sweeps/early-warning.toml")
        rows = bench_warning(args.sweep_dir, args.measures.split(",") if args.measures else None,
                             args.sustain, args.early, log=lambda line: print(line, file=sys.stderr, flush=True))
        print_warning(rows)
        write_csv(rows, args.csv or Path(args.sweep_dir) / "early-warning.csv")
        return 0
    if args.what == "sweep":
        from grokinterp.bench.batched import bench_batched, print_batched

        print_batched(bench_batched(args.preset, args.steps, args.side, args.out))
        return 0
    if args.what == "grok":
        return run_grok(args)
    if args.what == "progress":
        from pathlib import Path

        if not (Path(args.run) / "config.json").exists():
            raise ValueError(f"no run at {args.run}; train one first: python -m grokinterp.train mod113")
        print_progress(bench_progress(args.run, args.max_checkpoints))
        return 0
    if args.steps < 1 or args.repeats < 1 or args.loop_steps < 0:
        raise ValueError("--steps and --repeats must be >= 1, --loop-steps >= 0")
    if args.precision not in PRECISIONS:
        raise ValueError(f"--precision must be {' or '.join(PRECISIONS)}, got {args.precision!r}")
    from grokinterp.bench.train import bench_train, distinct_presets, print_summary
    from grokinterp.presets import PRESETS

    if not args.all and args.preset not in PRESETS:
        raise ValueError(f"unknown preset {args.preset!r} (known: {', '.join(PRESETS)})")
    names = distinct_presets() if args.all else [args.preset]
    print_summary(*bench_train(names, args.steps, args.repeats, args.loop_steps, precision=args.precision))
    return 0


def run_grok(args: argparse.Namespace) -> int:
    from grokinterp.bench.grok import CSV_COLUMNS, bench_grok, print_grok, trial_rows

    gf = {k: float(v) for k, v in (kv.split("=", 1) for kv in args.grokfast.split(",") if kv)}
    floats = lambda text: [float(x) for x in text.split(",") if x]  # noqa: E731
    if min(args.seeds, args.max_steps, args.weak_max_steps,
           1 if args.weak_steps is None else args.weak_steps) < 1:
        raise ValueError("--seeds, --max-steps, --weak-max-steps and --weak-steps must be >= 1")
    ths = floats(args.thresholds)
    if not ths or not all(0 < t <= 1 for t in ths):
        raise ValueError(f"--thresholds must be accuracies in (0, 1], got {args.thresholds!r}")
    only = args.only.split(",") if args.only else None
    widths = tuple(int(w) for w in args.weak_widths.split(",") if w)
    if any(w < 1 for w in widths):
        raise ValueError(f"--weak-widths must be whole numbers >= 1, got {args.weak_widths!r}")
    try:
        result = bench_grok(args.preset, args.max_steps, tuple(ths), args.seeds,
                            floats(args.lrs) if args.lrs else None, tuple(floats(args.wds)), args.sets, only, gf,
                            args.transfer_acc, args.out, weak_max_steps=args.weak_max_steps,
                            tune_methods=args.tune_methods, weak_widths=widths, weak_steps=args.weak_steps,
                            log=lambda line: print(line, file=sys.stderr, flush=True))
    except KeyboardInterrupt:
        print("interrupted: no table (an interrupted run has no time to the threshold)", file=sys.stderr)
        return 130
    print_grok(result)
    if args.csv:
        import csv

        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(trial_rows(result, args.task_name))
    return 0
