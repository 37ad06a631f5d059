"""The `grokinterp` console script.

    grokinterp presets                  list the named configurations
    grokinterp train PRESET [...]       same as `python -m grokinterp.train PRESET [...]`
    grokinterp info RUN                 summary of a run directory, with every checkpoint verified
    grokinterp report RUN [-o FILE]     self-contained HTML figure report of a run (or of a sweep directory)
    grokinterp sweep SPEC [...]         train the runs of a TOML sweep spec, locally, on Ray or SLURM (resumable)
    grokinterp import FILE... --preset P --out DIR
                                        a HookedTransformer / TL-demo / progress-measures checkpoint as a run
    grokinterp bench train|progress|grok|sweep [...]
                                        same as `python -m grokinterp.bench ...`
    grokinterp repair RUN               rebuild a run's missing or unreadable manifest.json from its files

User mistakes print one line on stderr and exit with code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _presets(_: list[str]) -> int:
    from grokinterp.models import architecture_of
    from grokinterp.presets import PRESETS, get_preset

    for name in PRESETS:
        cfg = get_preset(name)
        t, m = cfg.task, cfg.model
        print(f"{name:<22} {t.describe()}{_split(t)}, {architecture_of(m).short(m)}, wd {cfg.train.weight_decay}, "
              f"{cfg.train.steps} steps")
    return 0


def _split(t) -> str:
    from grokinterp.tasks import family_of

    return f", frac_train {t.frac_train}" if family_of(t).kind == "pairs" else ""


def _info(argv: list[str]) -> int:
    from grokinterp.models import architecture_of
    from grokinterp.runs.run import load_run
    from grokinterp.runs.store import CheckpointError

    p = argparse.ArgumentParser(prog="grokinterp info")
    p.add_argument("run")
    args = p.parse_args(argv)
    path = Path(args.run)
    if path.exists() and not path.is_dir():
        return _error(f"{path} is a file, not a run directory")
    try:
        run = load_run(path)
        rows = run.metrics
    except json.JSONDecodeError as e:  # only reachable for a config.json the manifest does not list
        return _error(f"run config {path / 'config.json'} is corrupt: not valid JSON ({e})")
    except (OSError, CheckpointError, ValueError) as e:
        return _error(str(e))
    steps = run.steps
    print(f"run       {run.path} (preset {run.config.preset or '-'})")
    print(f"task      {run.config.task.describe()}{_split(run.config.task)}")
    print(f"model     {architecture_of(run.config.model).describe(run.config.model)}")
    print(f"optimiser {run.config.train.describe_optimizer()}")
    print(f"ckpts     {len(steps)}" + (f", steps {steps[0]}..{steps[-1]}" if steps else ""))
    if not steps:
        print("state     not started (no checkpoint yet): the training command starts it")
    elif not (path / "split.safetensors").exists() or "split.safetensors" not in run.store.verify():
        print("state     its train/test split was never written: the training command writes it and resumes")
    if rows:
        last = rows[-1]
        print(f"last      step {last['step']}: train_acc {last['train_acc']:.4f} test_acc {last['test_acc']:.4f} "
              f"test_loss {last['test_loss']:.3g} weight_norm {last['weight_norm']:.2f}")
        grok = next((r["step"] for r in rows if r["test_acc"] >= run.config.train.grok_threshold), None)
        print(f"grokked   {'step ' + str(grok) if grok is not None else 'not yet'}")
    bad = {f: err for f, err in run.store.verify().items() if err}
    for f, err in bad.items():
        print(f"CORRUPT   {f}: {err}")
    print("verified  " + ("all files match the manifest" if not bad else f"{len(bad)} file(s) fail"))
    return 1 if bad else 0


def _import(argv: list[str]) -> int:
    from grokinterp.presets import PRESETS, get_preset
    from grokinterp.runs.importing import FORMATS, import_checkpoints

    p = argparse.ArgumentParser(prog="grokinterp import",
                                description=f"Convert checkpoint files ({', '.join(FORMATS)}; see docs/importing.md) "
                                            "into a run directory. Files load weights-only: nothing in them runs.")
    p.add_argument("files", nargs="+", metavar="FILE", help="torch.save file(s) of one run")
    p.add_argument("--preset", required=True, help=f"the run's config ({', '.join(PRESETS)})")
    p.add_argument("--out", required=True, help="the new run directory (must not exist or be empty)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value to fit the file's model, e.g. --set model.d_mlp=512")
    p.add_argument("--step", type=int, default=0, help="the step of a bare state dict (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    try:
        cfg = get_preset(args.preset).with_overrides(args.overrides)
        r = import_checkpoints(args.files, cfg, args.out, step=args.step,
                               progress=False if args.no_progress else None)
    except ValueError as e:  # ConfigError and LegacyFormatError: the user's file or flags
        return _error(str(e))
    except OSError as e:
        return _error(f"{e.filename}: {e.strerror}" if e.filename else str(e))
    steps = f"step {r.steps[0]}" if len(r.steps) == 1 else f"steps {r.steps[0]}..{r.steps[-1]}"
    print(f"imported {len(r.steps)} checkpoint(s) ({steps}, format {r.format}) into {r.out}")
    print(f"split: {r.split_from}")
    if r.max_loss_rel_diff is not None:
        print(f"losses recomputed from the weights match the file's own to {r.max_loss_rel_diff:.1e} (max relative "
              "difference)")
    return 0


def _repair(argv: list[str]) -> int:
    """`grokinterp repair RUN`: rebuild a missing or unreadable manifest.json from the run's files on disk."""
    from grokinterp.runs.store import RunLockedError, RunStore

    p = argparse.ArgumentParser(prog="grokinterp repair", description=_repair.__doc__)
    p.add_argument("run")
    args = p.parse_args(argv)
    path = Path(args.run)
    if not path.is_dir():
        return _error(f"{path} is not a run directory")
    store = RunStore(path)
    problem = store.manifest_problem()
    if problem is None:
        print(f"{path}: the manifest is readable ({len(store.steps())} checkpoint(s)); nothing to repair"
              if (path / "manifest.json").exists() else f"{path}: no run files; nothing to repair")
        return 0
    try:
        with store.locked():
            print(f"{problem}; {store.rebuild_manifest().line()}")
    except (RunLockedError, OSError) as e:
        return _error(str(e))
    return 0


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"presets": "list presets", "train": "train a preset", "info": "summarise a run directory",
                "report": "HTML figure report", "sweep": "run a sweep", "bench": "benchmarks",
                "import": "import checkpoints of other code", "repair": "rebuild a run's lost manifest"}
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd in ("presets", "info"):
        try:
            return _presets(rest) if cmd == "presets" else _info(rest)
        except BrokenPipeError:  # e.g. `grokinterp info RUN | head`: the reader left, nothing to report
            sys.stderr.close()
            return 0
    if cmd == "import":
        return _import(rest)
    if cmd == "repair":
        return _repair(rest)
    if cmd == "train":
        from grokinterp.train.cli import main as train_main

        return train_main(rest)
    if cmd == "report":
        import grokinterp.report

        return grokinterp.report.main(rest)
    if cmd == "sweep":
        import grokinterp.sweep

        return grokinterp.sweep.main(rest)
    if cmd == "bench":
        import grokinterp.bench.cli

        return grokinterp.bench.cli.main(rest)
    print(f"error: unknown command {cmd!r} (commands: {', '.join(commands)})", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
