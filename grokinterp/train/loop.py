"""The training loop, shared by single runs (`grokinterp.train`), model batches (`grokinterp.train.batched`) and the
benchmarks. It owns what every run does the same way: the step count, the log and checkpoint schedules, the
metrics rows and the grokked step, Ctrl-C/SIGTERM, the progress bar and divergence; a `Stepper` owns the maths
of one step for one run or for a batch of runs.

Per step s (the state after s updates; step 0 is the initialisation):

    loss = stepper.forward(s)                  # the training batch of update s (none at the last step)
    rows = stepper.metrics(s, runs logging)    # train/test loss and accuracy, weight norm, lr
    save the runs whose schedule has s         # model tensors, resume state, metadata
    stepper.update(s, loss, alive)             # backward, gradient transforms, optimiser step

Metrics rows are written with the checkpoint they lead up to (and at least every `FLUSH_SECONDS`): a resume
drops every row past its checkpoint anyway. Checkpoints of a resumed run's first step are not written
again. A run whose train loss becomes non-finite is checkpointed and ended (`Slot.diverged_step`).
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from grokinterp.config import RunConfig
from grokinterp.runs.store import RunStore
from grokinterp.train import explog
from grokinterp.train.cores import registered
from grokinterp.train.explog import MetricsLogger
from grokinterp.train.initfrom import META_KEYS as INIT_META_KEYS

FLUSH_SECONDS = 30.0


@dataclass(frozen=True)
class CheckpointSchedule:
    """Steps that get a checkpoint: 0, `log_points` log-spaced steps in [1, every], every multiple of
    `every`, and `total`. Memorisation happens in the first few hundred steps, hence the log part. A function
    of the step (`step in schedule`): its memory does not grow with the step count."""

    total: int
    every: int
    log_points: int
    log_steps: frozenset[int] = field(init=False)

    def __post_init__(self) -> None:
        n = self.log_points
        object.__setattr__(self, "log_steps", frozenset(round(self.every ** (i / max(n - 1, 1))) for i in range(n)))

    def __contains__(self, step: int) -> bool:
        if not 0 <= step <= self.total:
            return False
        return step in (0, self.total) or step % self.every == 0 or step in self.log_steps


def checkpoint_schedule(total: int, every: int, log_points: int) -> list[int]:
    """Every step of `CheckpointSchedule(total, every, log_points)`, sorted (for small schedules: tests, docs)."""
    schedule = CheckpointSchedule(total, every, log_points)
    steps = {0, total, *range(every, total + 1, every), *schedule.log_steps}
    return sorted(s for s in steps if s in schedule)


def warmup_factor(cfg: RunConfig, step: int) -> float:
    """Nanda et al.'s `LambdaLR(lambda s: min(s / warmup_steps, 1))`: update 0 has lr 0."""
    w = cfg.train.warmup_steps
    return min(step / w, 1.0) if w > 0 else 1.0


def lr_at(cfg: RunConfig, step: int) -> float:
    return cfg.train.lr * warmup_factor(cfg, step)


@dataclass
class Slot:
    """One run of the loop: its config, its directory and what the loop tracks about it."""

    cfg: RunConfig
    store: RunStore
    grokked_step: int | None = None
    last_row: dict = field(default_factory=dict)
    diverged_step: int | None = None
    meta: dict[str, str] = field(default_factory=dict)  # extra checkpoint metadata (e.g. GrokTransfer's source)
    pending: list[dict] = field(default_factory=list)

    logger: MetricsLogger | None = None  # train.log's mirror of the metrics rows, made at the first flush

    def __post_init__(self) -> None:
        t = self.cfg.train
        self.total = t.steps
        self.schedule = CheckpointSchedule(t.steps, t.ckpt_every, t.ckpt_log_points)
        explog.require(t.log)  # a missing package is an error now, not after the first rows

    def logs_at(self, step: int) -> bool:
        return step % self.cfg.train.log_every == 0 or step in self.schedule or step == self.total

    def resume_from(self, meta: dict[str, str]) -> float:
        """Take the grokked step (and the source of `train.init_from`) from a resume point's checkpoint
        metadata, and the last metrics row before it (what `settled` reads until the next row); returns its wall
        time."""
        self.grokked_step = int(meta["grokked_step"]) if meta.get("grokked_step", "") != "" else None
        before = [r for r in self.store.read_metrics(skip_bad=True) if r.get("step", -1) < int(meta.get("step", "0"))]
        self.last_row = before[-1] if before else {}
        for key in INIT_META_KEYS:
            if key in meta:
                self.meta.setdefault(key, meta[key])
        return float(meta.get("wall_time", "0"))

    def flush(self) -> None:
        self.store.append_metrics(self.pending)
        if self.pending and self.cfg.train.log != "none":
            if self.logger is None:
                self.logger = explog.make_logger(self.cfg.train.log, self.store.path, self.pending[0]["step"],
                                                 self.cfg.to_dict())
            self.logger.log(self.pending)
        self.pending = []

    def close(self) -> None:
        if self.logger is not None:
            self.logger.close()
            self.logger = None


@runtime_checkable
class Stepper(Protocol):
    def forward(self, step: int) -> Tensor:
        """The training loss of update `step` (summed over the runs of a batch)."""

    def metrics(self, step: int, runs: Sequence[int], loss: Tensor | None) -> list[dict]:
        """A metrics row for each run index in `runs` (without `step` and `wall_time`)."""

    def update(self, step: int, loss: Tensor, alive: Sequence[bool]) -> None:
        """Backward and optimiser step of update `step`; runs not `alive` keep their parameters."""

    def state(self, run: int) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """(model tensors, resume tensors) of run `run` now."""


class StopFlag:
    """SIGINT/SIGTERM set a flag the loop checks between steps; a second SIGINT interrupts at once."""

    def __init__(self) -> None:
        self.stop = False
        self._old: dict = {}

    def _handler(self, signum, frame):  # noqa: ARG002
        if self.stop and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.stop = True

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread: no signal handling
                pass
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


@dataclass
class LoopResult:
    step: int  # the last step reached (checkpointed)
    interrupted: bool


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def settled(slot: Slot, step: int, steps_after_grokked: int) -> bool:
    """The stop of `stop_when_grokked`: at least `steps_after_grokked` steps past the slot's grokked step, with its
    last logged test accuracy at `train.grok_threshold` or above. A run that collapsed after generalising (Power
    et al.'s S5 runs fall to ~1% accuracy for a few hundred to several thousand steps, then recover) trains on
    until it is back."""
    return (slot.grokked_step is not None and step >= slot.grokked_step + steps_after_grokked
            and slot.last_row.get("test_acc", 0.0) >= slot.cfg.train.grok_threshold)


def run_loop(stepper: Stepper, slots: list[Slot], start: int, *, wall_offset: float = 0.0, resumed: bool = False,
             stop_when_grokked: bool = False, steps_after_grokked: int = 0, progress: bool | None = None,
             desc: str | None = None) -> LoopResult:
    """Train every slot from `start` to its own `total` (see the module docstring). `stop_when_grokked`: stop
    `steps_after_grokked` steps after every slot's grokked step (checkpointed too), its first logged step with
    test accuracy >= `train.grok_threshold`, or later, once its test accuracy is back there (`settled`). The
    loop registers as a running training (`grokinterp.train.cores`) and says in one line on stderr when other
    trainings already use the cores."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter() - wall_offset
    last_flush = time.perf_counter()
    end = max(s.total for s in slots)

    def save(i: int, step: int) -> None:
        slot = slots[i]
        slot.flush()
        model, resume = stepper.state(i)
        meta = {"step": str(step), "wall_time": repr(time.perf_counter() - t0),
                "grokked_step": "" if slot.grokked_step is None else str(slot.grokked_step), **slot.meta}
        slot.store.save_checkpoint(step, model, resume, meta)

    bar = tqdm(total=end, initial=start, disable=None if progress is None else not progress, mininterval=1.0,
               unit="step", desc=desc, dynamic_ncols=True)
    step, interrupted = start, False
    flush = any(s.cfg.train.flush_denormal for s in slots)
    threads = torch.get_num_threads()
    if flush:  # subnormal floats cost ~10x on CPUs (fixed small weight norms: 12x measured); see docs/training.md.
        # The flag is per thread and torch's worker threads already exist, so the loop runs on this thread only
        # (results do not depend on the thread count)
        torch.set_num_threads(1)
        torch.set_flush_denormal(True)
    try:
        with StopFlag() as flag, registered(1 if flush else threads):
            while True:
                active = [i for i, s in enumerate(slots) if step <= s.total]
                loss = stepper.forward(step) if step < max(slots[i].total for i in active) else None
                logging = [i for i in active if slots[i].logs_at(step)]
                if logging:
                    now = time.perf_counter() - t0
                    for i, row in zip(logging, stepper.metrics(step, logging, loss)):
                        slot = slots[i]
                        row = {"step": step, **row, "wall_time": now}
                        slot.pending.append(row)
                        slot.last_row = row
                        if slot.grokked_step is None and row["test_acc"] >= slot.cfg.train.grok_threshold:
                            slot.grokked_step = step
                        if not _finite(row["train_loss"]) and slot.diverged_step is None:
                            slot.diverged_step, slot.total = step, step
                    if len(slots) == 1:
                        r = slots[0].last_row
                        bar.set_postfix(train_acc=f"{r['train_acc']:.3f}", test_acc=f"{r['test_acc']:.3f}",
                                        test_loss=f"{r['test_loss']:.3g}", refresh=False)
                grokked = stop_when_grokked and all(settled(slots[i], step, steps_after_grokked) for i in active)
                for i in active:
                    s = slots[i]
                    due = (step in s.schedule or grokked or flag.stop or step == s.total
                           or (stop_when_grokked and step == s.grokked_step))
                    if due and not (resumed and step == start):
                        save(i, step)
                if time.perf_counter() - last_flush > FLUSH_SECONDS:
                    for s in slots:
                        s.flush()
                    last_flush = time.perf_counter()
                if grokked or all(step >= s.total for s in slots):
                    break
                if flag.stop:
                    interrupted = True
                    break
                stepper.update(step, loss, [step < s.total for s in slots])
                step += 1
                bar.update(1)
        for s in slots:
            s.flush()
    finally:
        if flush:
            torch.set_flush_denormal(False)
            torch.set_num_threads(threads)
        for s in slots:
            s.close()
        bar.close()
    return LoopResult(step=step, interrupted=interrupted)
