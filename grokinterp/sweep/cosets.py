"""Power et al.'s output-layer cosets over the runs of a sweep of permutation runs (issue 31's S5 seeds):
`python -m grokinterp.sweep.cosets SWEEP_DIR [--csv FILE]`.

For every run with checkpoints: the coset summary (`grokinterp.progress.coset_table`, from
`analysis.groups.coset_summary`: the best coset partition of S_n of the unembedding rows W_U by pseudo-F, on
S5 whether it is a partition of Power et al.'s D5 <(0,3)(1,4), (1,2)(3,4)> or a conjugate and the best rank of
those) at its first checkpoint whose logged validation accuracy reached `train.grok_threshold` (the generalised
model) and, once the run is done, at its last checkpoint (after cleanup; a run still training or interrupted has
no such row yet), and the two irreps that carry most of W_U there. Columns:
`seed` (model.seed), `d_vocab_out` (the output softmax's size: the task's tokens, or `model.d_vocab`),
`step`, `val_acc`, `top_subgroup_order`, `top_is_d5_conjugate`, `d5_best_rank`, `irreps` (the two largest
W_U irrep shares, e.g. `4,1=0.61;sign=0.20`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from grokinterp.progress.curves import coset_table
from grokinterp.progress.nanda import grokked_step
from grokinterp.sweep.outcomes import table_main
from grokinterp.sweep.read import load_sweep

COLUMNS = ("seed", "d_vocab_out", "step", "val_acc", "top_subgroup_order", "top_is_d5_conjugate", "d5_best_rank",
           "irreps")
IRREP_PREFIX = "W_U:"


def top_irreps(row: dict[str, Any], k: int = 2) -> str:
    """The `k` largest `W_U:<irrep>` shares of a coset-table row, as `name=share;...`."""
    shares = sorted(((key[len(IRREP_PREFIX):], float(v)) for key, v in row.items() if key.startswith(IRREP_PREFIX)),
                    key=lambda kv: -kv[1])
    return ";".join(f"{name}={share:.2f}" for name, share in shares[:k])


def run_rows(run, finished: bool = True) -> list[dict[str, Any]]:
    """The rows (`COLUMNS`) of one run: at its grokked checkpoint (if any) and, if `finished`, at its last."""
    steps = sorted({s for s in (grokked_step(run), run.steps[-1] if finished else None) if s is not None})
    if not steps:
        return []
    table = coset_table(run, steps, progress=False)
    acc = {r["step"]: r.get("test_acc") for r in run.metrics}
    cfg, task = run.config, run.task()
    rows = []
    for i, step in enumerate(table["step"]):
        row = {k: table[k][i] for k in table.columns}
        rows.append({"seed": cfg.model.seed, "d_vocab_out": cfg.model.d_vocab or task.d_vocab_out, "step": int(step),
                     "val_acc": acc.get(int(step)), "top_subgroup_order": int(row["top_subgroup_order"]),
                     "top_is_d5_conjugate": bool(row.get("top_is_d5_conjugate", False)),
                     "d5_best_rank": None if "d5_best_rank" not in row else int(row["d5_best_rank"]),
                     "irreps": top_irreps(row)})
    return rows


def coset_rows(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """`run_rows` of every run of the sweep that has a checkpoint, in the sweep's order (the last checkpoint only of
    the runs that are done)."""
    sweep = load_sweep(sweep_dir)
    rows = []
    for r in sweep.runs:
        if sweep.state(r.name) == "pending":
            continue
        run = sweep.run(r.name)
        if run.steps:
            rows += run_rows(run, finished=sweep.state(r.name) == "done")
    return rows


def main(argv: list[str] | None = None) -> int:
    return table_main("python -m grokinterp.sweep.cosets", __doc__, coset_rows, argv)


if __name__ == "__main__":
    sys.exit(main())
