"""What each run of a sweep came to: `python -m grokinterp.sweep.outcomes SWEEP_DIR [--csv FILE]`.

One row per run, from its logged metrics alone (no checkpoint is loaded): the settings the sweep varies, its
state, the last logged step, the first logged steps at which train and test accuracy reached the run's
`train.grok_threshold` (`train_99`, `test_99`; empty: not within the budget), the final train and test
accuracy and test loss, and Prieto et al.'s softmax collapse of the training predictions
(`train_softmax_collapse`, `grokinterp.analysis.collapse`): its largest value over the run and its last.
Comparing seeds or settings (`configs/sweeps/precision-mod113.toml`: float32 against bfloat16) is then one table.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grokinterp.sweep.fractions import first_step
from grokinterp.sweep.read import load_sweep
from grokinterp.sweep.spec import format_value

COLUMNS = ("state", "steps", "train_99", "test_99", "train_acc", "test_acc", "test_loss", "collapse_max",
           "collapse_last")


def outcome(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """The run's outcome columns (`COLUMNS` less `state`) from its metrics rows; None where nothing was logged."""
    logged = [r for r in rows if "test_acc" in r]
    last = logged[-1] if logged else {}
    collapse = [r["train_softmax_collapse"] for r in logged if r.get("train_softmax_collapse") is not None]
    return {"steps": last.get("step"), "train_99": first_step(logged, "train_acc", threshold),
            "test_99": first_step(logged, "test_acc", threshold), "train_acc": last.get("train_acc"),
            "test_acc": last.get("test_acc"), "test_loss": last.get("test_loss"),
            "collapse_max": max(collapse, default=None), "collapse_last": collapse[-1] if collapse else None}


def outcome_table(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """One row per run of the sweep, in its order: the varied overrides (formatted), then `COLUMNS`."""
    sweep = load_sweep(sweep_dir)
    rows = []
    for run in sweep.runs:
        state = sweep.state(run.name)
        metrics = sweep.run(run.name).metrics if state != "pending" else []
        rows.append({**{k: format_value(v) for k, v in run.overrides.items()}, "state": state,
                     **outcome(metrics, run.config.train.grok_threshold)})
    return rows


def write_csv(rows: list[dict[str, Any]], out) -> None:
    fields = list(dict.fromkeys(k for r in rows for k in r))
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if r.get(k) is None else r[k] for k in fields})


def table_main(prog: str, doc: str, rows_of: Callable[[str], list[dict[str, Any]]],
               argv: list[str] | None = None) -> int:
    """The command line of a per-run table of a sweep: `prog SWEEP_DIR [--csv FILE]`, the rows `rows_of(SWEEP_DIR)`
    as CSV on stdout or in FILE; a missing or unreadable sweep is one line, exit 2."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    parser.add_argument("sweep_dir")
    parser.add_argument("--csv", default=None, metavar="FILE", help="write the table here (default: stdout)")
    args = parser.parse_args(argv)
    try:
        rows = rows_of(args.sweep_dir)
    except (FileNotFoundError, ValueError) as e:  # ConfigError is a ValueError
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.csv is None:
        write_csv(rows, sys.stdout)
    else:
        with open(args.csv, "w", newline="") as f:
            write_csv(rows, f)
    return 0


def main(argv: list[str] | None = None) -> int:
    return table_main("python -m grokinterp.sweep.outcomes", __doc__, outcome_table, argv)


if __name__ == "__main__":
    sys.exit(main())
