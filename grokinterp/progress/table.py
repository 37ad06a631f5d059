"""The one table type of the over-checkpoint measures (`CheckpointTable`) and the driver that fills it,
`over_checkpoints(run, measure)`: one row per checkpoint, checkpoints loaded one at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from grokinterp.allocator import keep_freed_memory
from grokinterp.runs.run import Run


@dataclass(frozen=True)
class CheckpointTable:
    """The one table type of the over-checkpoint drivers (`measures`, `representation_table`, `head_scores`, and
    `over_checkpoints` for your own): one entry per checkpoint in every column, `step` first. A column holds
    a scalar per checkpoint, or an array of the same shape at every checkpoint (e.g. head scores, shape
    [n_steps, layer, head], with the axis names in `meta["axes"]`). Columns and metadata read as attributes
    too: `table.test_loss`, `table.key_freqs`."""

    columns: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        own = self.__dict__
        if name in own.get("columns", {}):
            return own["columns"][name]
        if name in own.get("meta", {}):
            return own["meta"][name]
        raise AttributeError(f"no column or metadata {name!r} (columns: {', '.join(own.get('columns', {}))}; "
                             f"metadata: {', '.join(own.get('meta', {}))})")

    def __len__(self) -> int:
        return len(self.columns["step"])

    def __iter__(self) -> Iterator[dict]:
        return iter(self.rows())

    @property
    def steps(self) -> np.ndarray:
        return self.columns["step"]

    def rows(self) -> list[dict]:
        """One dict per checkpoint; with array columns, one per checkpoint and array index (a long table with
        the index under the names of `meta["axes"]`)."""
        arrays = {k: v for k, v in self.columns.items() if v.ndim > 1}
        scalars = {k: v for k, v in self.columns.items() if v.ndim == 1}
        out = []
        for i in range(len(self)):
            base = {k: v[i].item() for k, v in scalars.items()}
            if not arrays:
                out.append(base)
                continue
            shape = next(iter(arrays.values())).shape[1:]
            axes = self.meta.get("axes", tuple(f"axis{j}" for j in range(len(shape))))
            for idx in np.ndindex(*shape):
                out.append({**base, **dict(zip(axes, idx)), **{k: v[(i, *idx)].item() for k, v in arrays.items()}})
        return out

    def first_step(self, column: str, above: float) -> int | None:
        """The first checkpoint step at which the scalar `column` exceeds `above`, or None."""
        hit = np.nonzero(self.columns[column] > above)[0]
        return int(self.steps[hit[0]]) if len(hit) else None

    def to_dict(self) -> dict[str, np.ndarray]:
        """Column name -> numpy array (copies)."""
        return {k: v.copy() for k, v in self.columns.items()}

    def to_pandas(self):
        """A pandas DataFrame of `rows()` (pandas is imported only here), with the metadata in `attrs`."""
        import pandas as pd

        df = pd.DataFrame(self.rows())
        df.attrs.update({k: list(v) if isinstance(v, tuple) else v for k, v in self.meta.items()})
        return df


def over_checkpoints(run: Run, measure: Callable[[int, dict[str, Tensor]], dict], steps: list[int] | None = None,
                     *, meta: dict | None = None, desc: str = "checkpoints",
                     progress: bool | None = None) -> CheckpointTable:
    """`measure(step, tensors) -> {column: value}` at every checkpoint of `run` (or `steps`), as one table.
    Checkpoints are loaded one at a time; one that fails verification is skipped with a warning."""
    from tqdm.auto import tqdm

    keep_freed_memory()  # each checkpoint reuses the last one's buffers
    steps = run.steps if steps is None else sorted(steps)
    rows = []
    with torch.no_grad():
        for step, tensors in tqdm(run.checkpoints(steps), total=len(steps), desc=desc, unit="ckpt",
                                  disable=None if progress is None else not progress, mininterval=1.0):
            rows.append({"step": step, **measure(step, tensors)})
    if not rows:
        raise ValueError(f"{run.path}: none of the {len(steps)} checkpoint(s) asked for could be loaded")
    cols = {"step": np.array([r["step"] for r in rows], dtype=np.int64)}
    for k in rows[0]:
        if k != "step":
            values = [r[k] for r in rows]
            cols[k] = (np.array(values, dtype=object) if isinstance(values[0], str)  # a name, e.g. a subgroup's
                       else np.stack([np.asarray(v, dtype=np.float64) for v in values]))
    return CheckpointTable(cols, dict(meta or {}))
