"""Measures over every checkpoint of a run, each returned as a `CheckpointTable` (one row per checkpoint).

- `table`: `CheckpointTable` and `over_checkpoints(run, measure)`, the driver for a measure of your own.
- `nanda`: Nanda et al. 2023's progress measures (`measures`: restricted and excluded loss, Gini coefficients,
  weight norm), for Z_p and, with key irreps, for S_n.
- `curves`: the other curves (`representation_table`, `head_scores`, `hessian`, `llc`, `softmax_collapse`,
  `irrep_traces`, `coset_table`).
- `spectral`: HTSR layer alpha and correlation traps of every weight matrix (`spectral`), and ILDR of the
  penultimate representations (`ildr`).
- `phases`: Nanda et al.'s three phases from a progress table (`phases`), and the phase changes of a digits or
  sequences run (`phase_changes`).

Everything public is importable from here: `grokinterp.progress.measures(run)`,
`grokinterp.progress.phases(table)`.
"""

from grokinterp.progress.curves import (
    coset_table,
    head_scores,
    hessian,
    irrep_traces,
    llc,
    output_rows,
    representation_table,
    sampled_steps,
    softmax_collapse,
    symbol_embedding,
    training_loss_fn,
    training_set,
)
from grokinterp.progress.nanda import (
    COLUMNS,
    Basis,
    basis_for,
    checkpoint_measures,
    default_keys,
    grokked_step,
    measures,
    measures_from_logits,
    why_not_measurable,
)
from grokinterp.progress.phases import PhaseChanges, Phases, phase_changes, phases
from grokinterp.progress.spectral import ildr, spectral, spectral_matrices
from grokinterp.progress.table import CheckpointTable, over_checkpoints

__all__ = [
    "COLUMNS", "Basis", "CheckpointTable", "PhaseChanges", "Phases", "basis_for", "checkpoint_measures", "coset_table",
    "default_keys",
    "grokked_step", "head_scores", "hessian", "ildr", "irrep_traces", "llc", "measures", "measures_from_logits",
    "output_rows", "over_checkpoints", "phase_changes", "phases", "representation_table", "sampled_steps",
    "softmax_collapse", "spectral", "spectral_matrices", "symbol_embedding", "training_loss_fn", "training_set",
    "why_not_measurable",
]
