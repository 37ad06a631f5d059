"""`train(cfg, out)`: train (or resume) one run into its directory, and the one-line messages of a user's
mistakes (`user_error`)."""

from __future__ import annotations

from pathlib import Path

import torch

from grokinterp.config import ConfigError, RunConfig
from grokinterp.runs.store import CheckpointError, RunLockedError, RunStore
from grokinterp.tasks import make_task
from grokinterp.train.loop import Slot, run_loop
from grokinterp.train.rundir import TrainResult, check_out_dir, open_run, write_record
from grokinterp.train.single import DivergedError, SingleStepper, resolve_device


def train(
    cfg: RunConfig, out: str | Path, *, stop_when_grokked: bool = False, steps_after_grokked: int = 0,
    progress: bool | None = None
) -> TrainResult:
    """Train (or resume) the run `cfg` into the directory `out`. `stop_when_grokked`: stop at the first logged
    step with test accuracy >= `train.grok_threshold`, or, with `steps_after_grokked` N, N steps after it (to see
    the clean-up that follows; a run whose test accuracy has fallen below the threshold again by then trains on
    until it is back), checkpointing the grokked step too."""
    cfg.validate()
    check_after_grokked(stop_when_grokked, steps_after_grokked)
    check_out_dir(Path(out))
    store = RunStore(out)
    store.acquire()
    try:
        return _train_locked(cfg, store, stop_when_grokked, steps_after_grokked, progress)
    finally:
        store.release()


def check_after_grokked(stop_when_grokked: bool, steps_after_grokked: int) -> None:
    if isinstance(steps_after_grokked, bool) or not isinstance(steps_after_grokked, int) or steps_after_grokked < 0:
        raise ConfigError(f"steps_after_grokked must be an integer >= 0, got {steps_after_grokked!r}")
    if steps_after_grokked and not stop_when_grokked:
        raise ConfigError("steps_after_grokked counts from the grokked step at which stop_when_grokked stops: "
                          "set stop_when_grokked too")


def _train_locked(cfg: RunConfig, store: RunStore, stop_when_grokked: bool, steps_after_grokked: int,
                  progress) -> TrainResult:
    saved = open_run(cfg, store)
    resuming = saved is not None
    device = resolve_device(cfg.train.device)
    task = make_task(cfg.task)
    stepper = SingleStepper(cfg, task, device, resuming=resuming)  # every set-up resolved before writing
    latest = store.latest_resume() if resuming else None
    if resuming and latest is None:
        raise ConfigError(f"{store.path} holds checkpoints but no resume point (an imported run?): it can be "
                          "analysed with grokinterp.load_run, not trained further; choose another --out")
    start, wall_offset, slot = 0, 0.0, Slot(cfg, store, meta=stepper.meta)
    if latest is not None:
        start, model_t, resume_t, meta = latest
        stepper.restore(model_t, resume_t)
        wall_offset = slot.resume_from(meta)
    write_record(cfg, store, task, saved)
    store.truncate_metrics(start - 1)  # step `start` is logged again, identically
    result = run_loop(stepper, [slot], start, wall_offset=wall_offset, resumed=latest is not None,
                      stop_when_grokked=stop_when_grokked, steps_after_grokked=steps_after_grokked,
                      progress=progress)
    if slot.diverged_step is not None:
        raise DivergedError(f"the train loss is {slot.last_row['train_loss']} at step {slot.diverged_step} "
                            f"({likely_cause(cfg)}); checkpoint written to {store.path}")
    return TrainResult(out=store.path, step=result.step, grokked_step=slot.grokked_step,
                       interrupted=result.interrupted, metrics=slot.last_row)


def likely_cause(cfg: RunConfig) -> str:
    """What most likely made the loss non-finite. AdamW's decoupled weight decay multiplies every weight by
    1 - lr * weight_decay per step: from lr * weight_decay >= 1 on, that flips or zeroes the weights, whatever
    the gradient; otherwise a too large learning rate is the usual cause."""
    t = cfg.train
    decay = t.lr * max(t.weight_decay, t.embed_weight_decay or 0.0)
    if decay >= 1.0:
        return (f"train.weight_decay={t.weight_decay:g} with train.lr={t.lr:g} scales every weight by "
                f"1 - lr * weight_decay = {1 - decay:.3g} per step: lower train.weight_decay")
    return f"train.lr={t.lr:g} too large?"


OOM_MESSAGES = ("not enough memory", "out of memory", "can't allocate memory")


def user_error(e: BaseException) -> str | None:
    """The one line to show for an exception that is the user's to fix (bad config, locked or corrupt run,
    full disk, out of memory), or None for a bug."""
    if isinstance(e, (ConfigError, RunLockedError, CheckpointError, DivergedError)):
        return str(e)
    if isinstance(e, (MemoryError, torch.OutOfMemoryError)) or (
            isinstance(e, RuntimeError) and any(m in str(e) for m in OOM_MESSAGES)):
        return "out of memory: the task or model is too large for this machine (reduce task.p, model sizes or " \
               "train.batch_size)"
    if isinstance(e, OSError) and e.strerror:
        return f"{e.filename}: {e.strerror}" if e.filename else e.strerror
    return None
