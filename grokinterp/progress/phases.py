"""Nanda et al.'s three phases of grokking (memorisation, circuit formation, cleanup) from a progress table,
and the phase changes of a digits or sequences run (a sharp fall of a loss, loss bumps, an induction head's
score rising), from its logged metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from grokinterp.analysis import induction
from grokinterp.analysis.transitions import Bump, Transition, detect_bumps, detect_transition
from grokinterp.progress.nanda import measures
from grokinterp.progress.table import CheckpointTable
from grokinterp.runs.run import Run
from grokinterp.tasks import family_of


@dataclass(frozen=True)
class Phases:
    """Step boundaries of the three phases of Nanda et al. (memorisation, circuit formation, cleanup)."""

    memorization_end: int | None
    circuit_formation_end: int | None
    cleanup_end: int | None
    rules: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, key: str) -> int | None:
        return getattr(self, key)

    def as_dict(self) -> dict[str, int | None]:
        return {k: getattr(self, k) for k in ("memorization_end", "circuit_formation_end", "cleanup_end")}


def _settled_index(y: np.ndarray, start: int, factor: float) -> int | None:
    """First index >= start after which every value stays within `factor` of the final value."""
    final = y[-1]
    if not np.isfinite(final) or final <= 0:
        return None
    ratio = np.maximum(y / final, final / np.maximum(y, 1e-300))
    outside = np.nonzero(ratio[start:] > factor)[0]
    idx = start if len(outside) == 0 else start + int(outside[-1]) + 1
    return idx if idx < len(y) - 1 else None  # settling at the very last point is not settling


@dataclass(frozen=True)
class PhaseChanges:
    """Phase changes of a digits or sequences run (`grokinterp.analysis.transitions`): the test loss, each
    answer position's test loss (digits), bumps on the train loss, and optionally the top induction
    head's score."""

    total: Transition | None
    per_position: list[Transition | None]
    train_bumps: list[Bump]
    induction: Transition | None = None
    induction_head: tuple[int, int] | None = None

    def as_dict(self) -> dict:
        def d(t):
            return None if t is None else t.as_dict()

        return {"total": d(self.total), "per_position": [d(t) for t in self.per_position],
                "train_bumps": [b.as_dict() for b in self.train_bumps], "induction": d(self.induction),
                "induction_head": self.induction_head}


def phase_changes(run: Run, head_table: CheckpointTable | None = None) -> PhaseChanges:
    """Phase changes of a digits/sequences run from its logged metrics (and, given its `head_scores` table,
    of its top induction head's score)."""
    rows = run.metrics
    steps = [r["step"] for r in rows]
    total = detect_transition(steps, [r["test_loss"] for r in rows])
    per_position = []
    if rows and "test_loss_pos" in rows[0]:
        losses = np.array([r["test_loss_pos"] for r in rows])
        per_position = [detect_transition(steps, losses[:, j]) for j in range(losses.shape[1])]
    bumps = detect_bumps(steps, [r["train_loss"] for r in rows])
    induction_t, head = None, None
    if head_table is not None:
        head = induction.top_head(head_table["induction"][-1])
        induction_t = detect_transition(head_table.steps, head_table["induction"][:, head[0], head[1]],
                                                     log=False, min_change=0.2)
    return PhaseChanges(total, per_position, bumps, induction_t, head)


def phases(table, *, p: int | None = None, settle_factor: float = 2.0) -> Phases | PhaseChanges:
    """Memorisation / circuit formation / cleanup boundaries from a progress table.

    `table` is a `CheckpointTable` or any mapping of column name -> sequence with `step`, `test_loss` and
    (optionally) `excluded_loss`; for a mapping pass `p` (else the initial test loss stands in for ln p).
    Given a `Run` of the digits or sequences families, returns its `phase_changes` instead (these tasks
    have phase changes rather than the three phases of grokking).
    Rules (boundaries are checkpoint steps; None when not reached):

    - memorization_end: the step of the test-loss peak. Train loss is already near zero there (the
      training set is memorised) and from then on the generalising circuit lowers the test loss
      (Nanda et al.'s 1.4k boundary sits at their test-loss peak, as does the TL demo's 1.5k).
    - circuit_formation_end: the first step after that with test loss below ln(p), the loss of a
      uniform guess over the p answers: the circuit now beats chance on unseen pairs and the steep fall
      of grokking begins (the TL demo's 13.3k boundary is its ln(113) crossing).
    - cleanup_end: the first step after circuit formation from which both the test loss and the
      excluded loss stay within `settle_factor` of their final values for the rest of the run (weight
      decay has finished removing the memorising components). None if they settle only at the end.
    """
    if isinstance(table, Run):
        if family_of(table.config.task).kind == "sampled":
            return phase_changes(table)
        table = measures(table, progress=False)
    cols = table.columns if isinstance(table, CheckpointTable) else table
    steps = np.asarray(cols["step"])
    test = np.asarray(cols["test_loss"], dtype=np.float64)
    p = table.meta.get("p") if isinstance(table, CheckpointTable) else p
    chance = math.log(p) if p else None
    rules = {
        "memorization_end": "step of the maximum test loss",
        "circuit_formation_end": "first later step with test loss < ln(p)",
        "cleanup_end": f"first later step after which test and excluded loss stay within {settle_factor}x of final",
    }
    if len(steps) == 0:
        return Phases(None, None, None, rules)
    i_mem = int(np.argmax(test))
    if chance is None:  # a plain mapping: take p from the initial test loss, ~ln(p) at init
        chance = float(test[0])
    below = np.nonzero(test[i_mem:] < chance)[0]
    if len(below) == 0:
        return Phases(int(steps[i_mem]), None, None, rules)
    i_circ = i_mem + int(below[0])
    ends = [_settled_index(test, i_circ, settle_factor)]
    if "excluded_loss" in cols:
        ends.append(_settled_index(np.asarray(cols["excluded_loss"], dtype=np.float64), i_circ, settle_factor))
    i_clean = None if any(e is None for e in ends) else max(ends)
    return Phases(int(steps[i_mem]), int(steps[i_circ]), None if i_clean is None else int(steps[i_clean]), rules)
