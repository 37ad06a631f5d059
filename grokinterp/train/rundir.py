"""The run directory as both steppers write it (the single run here, model batches in
`grokinterp.train.batched`): refusing an `--out` that holds something else, checking that an existing run is
this run before resuming it, and writing config.json and the split."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from grokinterp.config import RESUMABLE_KEYS, ConfigError, RunConfig
from grokinterp.errors import user_stacklevel
from grokinterp.runs.record import config_from_record, config_record
from grokinterp.runs.store import RunStore
from grokinterp.tasks import Task


@dataclass
class TrainResult:
    out: Path
    step: int  # last step reached (checkpointed)
    grokked_step: int | None  # first logged step with test accuracy >= grok_threshold
    interrupted: bool
    metrics: dict


def check_out_dir(path: Path) -> None:
    """Refuse an `--out` that is a file, a sweep directory, or a non-empty directory holding no run."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {path} is a file, not a run directory")
    if not path.is_dir():
        return
    names = {p.name for p in path.iterdir()}
    if "sweep.json" in names:
        raise ConfigError(f"--out {path} is a sweep directory; give a run directory (e.g. {path}/myrun)")
    if not names & {"config.json", "manifest.json"} and names - {".lock"}:
        raise ConfigError(f"--out {path} is a non-empty directory that holds no run; choose another --out")


def open_run(cfg: RunConfig, store: RunStore) -> RunConfig | None:
    """Check that an existing run directory holds this run: its saved config when resuming it, else None. A
    directory with a config but no checkpoint yet holds nothing to lose: a new config replaces it. A directory
    whose manifest is missing or unreadable while it holds a run's files is never taken for a new run: its
    manifest is rebuilt from the files on disk first (with a warning that says so)."""
    problem = store.manifest_problem()
    if problem is not None:
        warnings.warn(f"{problem}; {store.rebuild_manifest().line()}", stacklevel=user_stacklevel())
    if not store.exists() or not store.steps():
        return None
    steps = store.steps()
    try:
        saved = config_from_record(store.read_config())
    except (ConfigError, ValueError, FileNotFoundError) as e:
        raise ConfigError(f"{store.path} holds a run whose config.json cannot be read ({e})") from None
    diff = [k for k in saved.differences(cfg) if k not in RESUMABLE_KEYS]
    if diff:
        raise ConfigError(
            f"{store.path} holds a different run (differs in {', '.join(diff)}); "
            "choose another --out, or delete the directory to start over"
        )
    if steps[-1] > cfg.train.steps:
        raise ConfigError(f"{store.path} is already trained to step {steps[-1]}, past train.steps="
                          f"{cfg.train.steps}; load a checkpoint with grokinterp.load_run, or choose another --out "
                          "for a shorter run")
    return saved


def write_record(cfg: RunConfig, store: RunStore, task: Task, saved: RunConfig | None) -> None:
    """config.json and split.safetensors: written for a new run; for a resumed run the split is checked (or
    written, if a kill came before it was) and config.json is rewritten when a resumable key changed."""
    if saved is None:
        store.write_config(config_record(cfg))
        store.write_split({"train_idx": task.train_idx, "test_idx": task.test_idx})
        return
    try:
        split = store.read_split()
    except FileNotFoundError:
        store.write_split({"train_idx": task.train_idx, "test_idx": task.test_idx})
    else:
        if not (torch.equal(split["train_idx"], task.train_idx) and torch.equal(split["test_idx"], task.test_idx)):
            raise ConfigError(f"{store.path}: the saved split differs from the one this config makes")
    if saved.differences(cfg):
        store.write_config(config_record(cfg))
