"""Varma et al. 2023's ungrokking ("Explaining grokking through circuit efficiency", Sec. 5), for a sweep whose
runs continue a grokked run (`train.init_from`) at several training fractions.

A network that has grokked on a large training set is trained further on a subset D' of it. Their account:
the generalising circuit's efficiency does not depend on the dataset size, the memorising circuit's falls as it
grows, and D_crit is where the two are equal; below D_crit weight decay moves the network to memorisation and
test accuracy falls ("ungrokking"), near it test accuracy ends in between ("semi-grokking"-like partial
accuracy).

Per run: `test_acc_before` is its test accuracy at step 0 (the source's weights, on this run's test split) and
`test_acc_after` at its last logged step. `d_crit` estimates the critical fraction as the one where
`test_acc_after` crosses `level` (0.5), interpolated linearly between the two neighbouring fractions.
"""

from __future__ import annotations

from typing import Any

INIT_KEY = "train.init_from"
TABLE_COLUMNS = ("frac_train", "test_acc_before", "test_acc_after")


def is_continuation(sweep) -> bool:
    """Whether the sweep's runs start from another run's weights."""
    return any(run.config.train.init_from for run in sweep.runs)


def ungrokking_table(runs: list[tuple[Any, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """One row per run (from its `RunConfig` and metrics rows) that started from another run and has logged its
    step 0, ordered by decreasing training fraction."""
    rows = []
    for cfg, metrics in runs:
        logged = [m for m in metrics if "test_acc" in m]
        if not cfg.train.init_from or not logged or logged[0]["step"] != 0:
            continue
        rows.append({"frac_train": cfg.task.frac_train, "test_acc_before": logged[0]["test_acc"],
                     "test_acc_after": logged[-1]["test_acc"]})
    return sorted(rows, key=lambda r: -r["frac_train"])


def sweep_ungrokking_runs(sweep) -> list[tuple[Any, list[dict[str, Any]]]]:
    """(config, metrics rows) of every run of a sweep that has a run directory."""
    out = []
    for run in sweep.runs:
        try:
            out.append((run.config, sweep.run(run.name).metrics))
        except FileNotFoundError:
            continue
    return out


def d_crit(rows: list[dict[str, Any]], level: float = 0.5) -> float | None:
    """The training fraction at which `test_acc_after` crosses `level` going down in fraction, interpolated
    linearly; None when no two neighbouring fractions straddle it."""
    pts = sorted((r["frac_train"], r["test_acc_after"]) for r in rows)
    for (f0, a0), (f1, a1) in zip(pts, pts[1:]):
        if a0 < level <= a1:
            return f0 + (level - a0) * (f1 - f0) / (a1 - a0)
    return None
