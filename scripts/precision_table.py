"""The table of docs/results.md's "Mixed precision on mod113" section: per finished run of the precision sweep
(`configs/sweeps/precision-mod113.toml`), its outcome (`grokinterp.sweep.outcomes`), Nanda et al.'s phase
boundaries (`progress.phases` of `progress.measures`) and the key frequencies of its final embedding.

    python scripts/precision_table.py checkpoints/precision-mod113 docs/data/precision-mod113.csv
"""

from __future__ import annotations

import csv
import sys

from grokinterp import progress
from grokinterp.sweep import load_sweep
from grokinterp.sweep.outcomes import outcome_table


def main(sweep_dir: str, out: str) -> None:
    sweep = load_sweep(sweep_dir)
    rows = []
    for run_spec, base in zip(sweep.runs, outcome_table(sweep_dir)):
        if base["state"] != "done":
            continue
        table = progress.measures(sweep.run(run_spec.name), progress=False)
        phases = progress.phases(table)
        rows.append({"seed": base["model.seed"], "precision": base["train.precision"], "steps": base["steps"],
                     "test_99": base["test_99"], "memorization_end": phases.memorization_end,
                     "circuit_formation_end": phases.circuit_formation_end, "cleanup_end": phases.cleanup_end,
                     "key_freqs": " ".join(map(str, table.key_freqs)), "test_acc": base["test_acc"],
                     "test_loss": f"{base['test_loss']:.3g}", "collapse_max": f"{base['collapse_max']:.3f}",
                     "excluded_loss_final": f"{table.excluded_loss[-1]:.3g}",
                     "restricted_loss_final": f"{table.restricted_loss[-1]:.3g}"})
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main(*sys.argv[1:3])
