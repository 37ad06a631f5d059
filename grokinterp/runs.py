"""Reading a run directory: `load_run(path) -> Run`.

A `Run` gives the config, the metrics log, every checkpoint (verified against the manifest's sha256), the
hooked model at any checkpoint, the task with the run's own split, and all checkpoints' tensors stacked
along a leading step axis for vectorised analyses. Nothing here writes into the run directory, and no
load path unpickles anything (safetensors + JSON only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from grokinterp.config import RunConfig
from grokinterp.models import build_model, load_tensors_
from grokinterp.record import config_from_record
from grokinterp.store import RunStore
from grokinterp.tasks import Task, make_task


@dataclass
class Run:
    """A training run on disk. Load with `grokinterp.load_run(path)`."""

    path: Path
    config: RunConfig
    store: RunStore = field(repr=False)
    record: dict = field(repr=False, default_factory=dict)  # config.json as written (with package versions)

    @property
    def steps(self) -> list[int]:
        """Sorted steps that have a committed checkpoint."""
        return self.store.steps()

    @property
    def metrics(self) -> list[dict]:
        """Metrics rows (dicts with step, train_loss, test_loss, train_acc, test_acc, weight_norm, weight_sq,
        lr, wall_time), in step order."""
        return self.store.read_metrics()

    def metric(self, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of one metric column."""
        rows = [r for r in self.metrics if key in r]
        return [r["step"] for r in rows], [r[key] for r in rows]

    def state_dict(self, step: int | None = None) -> dict[str, Tensor]:
        """Checkpoint tensors at `step` (default: the last), keyed by the model's state_dict names."""
        return self.store.load_checkpoint(self.steps[-1] if step is None else step)

    def task(self) -> Task:
        """The task with this run's saved train/test split."""
        task = make_task(self.config.task)
        split = self.store.read_split()
        return task.with_split(split["train_idx"], split["test_idx"])

    def model(self, step: int | None = None, device: str | torch.device = "cpu"):
        """The hooked TransformerLens model (TransformerBridge in compatibility mode) at `step`."""
        task = make_task(self.config.task)
        model = build_model(self.config.model, task.d_vocab, task.d_vocab_out, task.n_ctx, device)
        load_tensors_(model, self.state_dict(step))
        model.eval()
        return model

    def checkpoints(self, steps: list[int] | None = None):
        """Iterator of (step, tensors) over the checkpoints at `steps` (default: all), loaded one at a time.
        A checkpoint that fails verification (`CheckpointError`) is skipped with a warning naming its file."""
        import warnings

        from grokinterp.store import CheckpointError

        for step in self.steps if steps is None else steps:
            try:
                tensors = self.store.load_checkpoint(step)
            except CheckpointError as e:
                warnings.warn(f"skipping step {step}: {e}", stacklevel=2)
                continue
            yield step, tensors

    def stacked(self, steps: list[int] | None = None) -> tuple[list[int], dict[str, Tensor]]:
        """Tensors of several checkpoints stacked on a leading axis: (steps, {name: (n_ckpt, *shape)}).
        Checkpoints that fail verification are left out with a warning; the returned steps are those loaded."""
        from grokinterp.store import CheckpointError

        steps = self.steps if steps is None else list(steps)
        if not steps:
            raise ValueError(f"{self.path} has no checkpoints")
        loaded = list(self.checkpoints(steps))
        if not loaded:
            raise CheckpointError(f"none of the {len(steps)} checkpoint(s) of {self.path} could be loaded")
        per = [sd for _, sd in loaded]
        return [s for s, _ in loaded], {name: torch.stack([sd[name] for sd in per]) for name in per[0]}


def load_run(path: str | Path) -> Run:
    """Open the run directory `path` (written by `python -m grokinterp.train`)."""
    store = RunStore(path)
    record = store.read_config()
    return Run(path=Path(path), config=config_from_record(record), store=store, record=record)
