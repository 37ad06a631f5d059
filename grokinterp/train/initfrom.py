"""`train.init_from=RUN[@STEP]`: start a run from another run's weights at one of its checkpoints (its last by
default), with a fresh optimiser.

This is how Varma et al. 2023 ("Explaining grokking through circuit efficiency") show ungrokking and
semi-grokking: a network that has grokked is trained further on a smaller dataset, and below a critical size
D_crit its test accuracy falls. With the same `task.seed`, a smaller `task.frac_train` trains on a subset of the
source's training pairs (`grokinterp.tasks.base.split_indices` takes a prefix of one seeded permutation).

Every tensor of the new model (parameters and buffers, by the model's state_dict names) is copied from the
source checkpoint, so the new run's step-0 checkpoint equals the source's weights bitwise. The source must be a
run of the same architecture whose tensors have the same names and shapes; anything else is one line. The
source and the step used are recorded in every checkpoint's metadata (`init_from`, `init_step`), and
`train.init_from` in config.json.
"""

from __future__ import annotations

import torch
from torch import Tensor

from grokinterp.errors import ConfigError
from grokinterp.models import architecture_of
from grokinterp.runs.run import load_run
from grokinterp.runs.store import CheckpointError

META_KEYS = ("init_from", "init_step")  # checkpoint metadata naming the source, carried across a resume


def checkpoint_step(steps: list[int], path: str, step: int | None, key: str) -> int:
    """The checkpoint step a `RUN[@STEP]` value names among a run's checkpoint `steps` (its last when `step` is
    None); one line (`ConfigError`, prefixed by the config `key`) when it has none or none at `step`."""
    if not steps:
        raise ConfigError(f"{key}: {path} has no checkpoint yet")
    if step is None:
        return steps[-1]
    if step not in steps:
        raise ConfigError(f"{key}: {path} has no checkpoint at step {step} (it has {len(steps)}, "
                          f"steps {steps[0]} to {steps[-1]})")
    return step


def source_tensors(cfg, params: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, str]]:
    """The source checkpoint's tensors for a model with tensors `params`, and the metadata naming it. One line
    (`ConfigError`) for a missing or unreadable run, a step it has no checkpoint at, or tensors that differ."""
    path, step = cfg.train.init_source()
    try:
        source = load_run(path)
        steps = source.steps
    except (FileNotFoundError, ValueError, CheckpointError) as e:
        raise ConfigError(f"train.init_from: {e}") from None
    step = checkpoint_step(steps, path, step, "train.init_from")
    if architecture_of(source.config) is not architecture_of(cfg):
        raise ConfigError(f"train.init_from: {path} is a model.arch={source.config.model.arch!r} run, this one "
                          f"model.arch={cfg.model.arch!r}")
    try:
        tensors = source.state_dict(step)
    except CheckpointError as e:
        raise ConfigError(f"train.init_from: {e}") from None
    for name, p in params.items():
        if name not in tensors:
            raise ConfigError(f"train.init_from: {path} has no tensor {name!r} (its model differs from this one)")
        if tuple(tensors[name].shape) != tuple(p.shape):
            raise ConfigError(f"train.init_from: {name} is {tuple(tensors[name].shape)} in {path} and "
                              f"{tuple(p.shape)} here (model or task sizes differ)")
    extra = sorted(set(tensors) - set(params))
    if extra:
        raise ConfigError(f"train.init_from: {path} has tensors this model does not ({', '.join(extra[:3])})")
    return tensors, {"init_from": str(cfg.train.init_from), "init_step": str(step)}


@torch.no_grad()
def load_init_(cfg, params: dict[str, Tensor]) -> dict[str, str]:
    """Copy the source checkpoint's tensors into `params` in place; returns the checkpoint metadata."""
    tensors, meta = source_tensors(cfg, params)
    for name, p in params.items():
        p.copy_(tensors[name].to(device=p.device, dtype=p.dtype))
    return meta
