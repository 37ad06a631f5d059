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
from grokinterp.errors import RunNotFoundError
from grokinterp.models import build_model, build_tensors, load_tensors_, named_tensors
from grokinterp.runs.record import config_from_record
from grokinterp.runs.store import CheckpointError, RunStore
from grokinterp.tasks import Task, make_task


@dataclass
class Run:
    """A training run on disk. Load with `grokinterp.load_run(path)`."""

    path: Path
    config: RunConfig
    store: RunStore = field(repr=False)
    record: dict = field(repr=False, default_factory=dict)  # config.json as written (with package versions)
    _names: list[str] | None = field(default=None, init=False, repr=False, compare=False)

    def tensor_names(self) -> list[str]:
        """The model's tensor names in its `state_dict()` order, the order the trainer wrote them in (built
        once per Run from a fresh model of the run's config). A safetensors file does not keep that order, and
        the order it loads in changes from process to process; seeded analyses that draw noise tensor by
        tensor (`progress.llc`, `progress.hessian`) need one fixed order. Empty when the model cannot be
        built here (e.g. a data set the task needs is missing): checkpoints then come in sorted name order."""
        if self._names is None:
            try:
                task = make_task(self.config.task)
                model = build_tensors(self.config.model, task.d_vocab, task.d_vocab_out, task.n_ctx, "cpu")
                self._names = list(named_tensors(model))
            except (OSError, ValueError):  # ConfigError is a ValueError; a missing data set an OSError
                self._names = []
        return self._names

    def _in_model_order(self, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
        """`tensors` in the model's order (`tensor_names`), any names the model lacks after them, sorted."""
        names = self.tensor_names()
        known = set(names)
        return {**{k: tensors[k] for k in names if k in tensors},
                **{k: tensors[k] for k in sorted(tensors) if k not in known}}

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
        """(steps, values) of one metric column; KeyError naming the columns for one the log does not have."""
        rows = [r for r in self.metrics if key in r]
        if not rows:
            known = sorted({k for r in self.metrics for k in r})
            raise KeyError(f"no metric {key!r} in {self.path / 'metrics.jsonl'} (columns: {', '.join(known)})")
        return [r["step"] for r in rows], [r[key] for r in rows]

    def state_dict(self, step: int | None = None) -> dict[str, Tensor]:
        """Checkpoint tensors at `step` (default: the last), keyed by the model's state_dict names, in the
        model's order (`tensor_names`), the same in every process."""
        if step is None:
            if not self.steps:
                raise CheckpointError(f"{self.path} has no checkpoint yet (its training command writes the first)")
            step = self.steps[-1]
        if isinstance(step, bool) or not isinstance(step, int):
            raise ValueError(f"step must be an int, got {step!r} ({type(step).__name__})")
        return self._in_model_order(self.store.load_checkpoint(step))

    def failing_steps(self) -> dict[int, str]:
        """Step -> why, for every checkpoint whose file fails verification (missing, truncated, a flipped byte):
        each file is read and hashed once."""
        bad = {}
        for rel, err in self.store.verify().items():
            name = Path(rel).name
            if err is not None and name.startswith("step_"):
                bad[int(Path(rel).stem.split("_", 1)[1])] = err
        return bad

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
        """Iterator of (step, tensors) over the checkpoints at `steps` (default: all), loaded one at a time,
        each in the model's order (as `state_dict`). A checkpoint that fails verification (`CheckpointError`)
        is skipped with a warning naming its file."""
        import warnings

        from grokinterp.runs.store import CheckpointError

        for step in self.steps if steps is None else steps:
            try:
                tensors = self._in_model_order(self.store.load_checkpoint(step))
            except CheckpointError as e:
                warnings.warn(f"skipping step {step}: {e}", stacklevel=2)
                continue
            yield step, tensors

    def stacked(self, steps: list[int] | None = None) -> tuple[list[int], dict[str, Tensor]]:
        """Tensors of several checkpoints stacked on a leading axis: (steps, {name: (n_ckpt, *shape)}).
        Checkpoints that fail verification are left out with a warning; the returned steps are those loaded."""
        from grokinterp.runs.store import CheckpointError

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
    if not Path(path).exists():
        raise RunNotFoundError(f"no run directory at {path}")
    if not Path(path).is_dir():
        raise RunNotFoundError(f"{path} is a file, not a run directory")
    store = RunStore(path)
    problem = store.manifest_problem()
    if problem is not None:
        raise CheckpointError(f"{problem}, so none of the {len(store.on_disk())} run files in {path} can be verified: "
                              f"`grokinterp repair {path}` rebuilds it from them (rerunning the training command "
                              "does too)")
    record = store.read_config()
    return Run(path=Path(path), config=config_from_record(record), store=store, record=record)
