"""Model batching: train many small runs at once in one process, `torch.func.vmap` over their stacked
parameters, each into its own run directory.

For tiny models (Liu et al.'s toy adder, small MLPs and transformers) a training step is dominated by
per-call overhead, so one vmapped forward/backward over M stacked models costs far less than M separate
steps (`python -m grokinterp.bench sweep` measures it). The runs may differ only in `BATCHABLE_KEYS`
(learning rates, weight decays, init seed and scale); everything else, the task and split included, must be
equal, training must be full-batch (`train.batch_size = 0`) on a finite task, and accel filters,
GrokTransfer and fixed-norm training are not batched.
`batch_key(cfg)` says which configs can share a batch and `why_not_batchable(cfg)` why one cannot.

The optimizer is torch's fused AdamW kernel (the one `torch.optim.AdamW(fused=True)` runs for single runs),
called on each run's slices of the stacked tensors with that run's learning rate and weight decay; the
vmapped forward and backward sum in another order than a single run's, so a batched run follows its
sequential twin to float rounding, not bitwise. The loop is `grokinterp.train.loop.run_loop`,
the one single runs use; `BatchedStepper` differs from theirs only in its forward (vmapped) and optimizer
step. Each run directory gets what `train()` writes: config, split, metrics every `log_every` steps, the
dense checkpoint schedule with the optimizer state (in `train()`'s names) in the latest ones, so `train()`
can resume or extend a batched run on its own.
A batch resumes when all its runs stopped at the same checkpoint (as they do when a batch is interrupted);
the wall time recorded in each run is the batch's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch

from grokinterp import scoring
from grokinterp.allocator import keep_freed_memory
from grokinterp.analysis.collapse import collapsed_rows
from grokinterp.config import ConfigError, RunConfig
from grokinterp.models import (
    BUFFERS,
    EMBEDDING_PARAMS,
    architecture_of,
    build_tensors,
    fused_logits,
    named_tensors,
    trainable_parameters,
)
from grokinterp.runs.record import config_record
from grokinterp.runs.store import RunStore
from grokinterp.tasks import Task, family_of, make_task
from grokinterp.train import TrainResult, accel
from grokinterp.train.loop import Slot, run_loop, warmup_factor
from grokinterp.train.rundir import check_out_dir, open_run

BATCHABLE_KEYS = frozenset({"train.lr", "train.weight_decay", "train.embed_lr", "train.embed_weight_decay",
                            "model.seed", "accel.init_scale", "train.grok_threshold", "preset"})


class StepMismatch(ValueError):
    """The runs of a batch stopped at different steps: they cannot resume together."""


def why_not_batchable(cfg: RunConfig) -> str | None:
    """None when `cfg` can train in a batch, else the reason (read off the config alone)."""
    if family_of(cfg.task).kind == "sampled":
        return "sampled or multi-position tasks train one by one"
    if cfg.task.regression:
        return "regression tasks train one by one"
    if cfg.train.batch_size != 0:
        return "minibatches train one by one"
    if not architecture_of(cfg.model).batchable:
        return f"model.arch={cfg.model.arch!r} trains one by one"
    if cfg.train.weight_noise > 0:
        return "weight noise trains one by one"
    if cfg.train.grad_clip > 0:
        return "gradient clipping trains one by one"
    if cfg.train.no_decay:
        return "tensors out of weight decay (train.no_decay) train one by one"
    if cfg.train.precision != "float32":
        return "bfloat16 training trains one by one"
    a = cfg.accel
    if a.grokfast != "none" or a.weight_norm > 0 or a.transfer_from or a.orthogonal_grad:
        return "Grokfast, fixed-norm training, GrokTransfer and orthogonal gradients train one by one"
    if cfg.train.init_from:
        return "runs started from another run's weights (train.init_from) train one by one"
    if cfg.train.optimizer != "adamw":
        return "Muon runs train one by one"
    if cfg.train.engine != "fused":
        return "batched training runs the fused engine"
    return None


def batch_key(cfg: RunConfig) -> str:
    """Configs with equal keys can share a batch (they differ only in `BATCHABLE_KEYS`)."""
    d = cfg.to_dict()
    for dotted in BATCHABLE_KEYS:
        if "." in dotted:
            section, key = dotted.split(".")
            d[section].pop(key, None)
        else:
            d.pop(dotted, None)
    d["train"].pop("steps", None)  # runs of different lengths share a batch until each one's end
    return repr(sorted((k, repr(v)) for k, v in d.items()))


def _hyper(cfgs: list[RunConfig], name: str) -> list[float]:
    """Each run's learning rate (`lr`, `embed_lr`) or weight decay (`wd`, `embed_wd`)."""
    t = [c.train for c in cfgs]
    if name == "lr":
        return [x.lr for x in t]
    if name == "wd":
        return [x.weight_decay for x in t]
    if name == "embed_lr":
        return [x.lr if x.embed_lr is None else x.embed_lr for x in t]
    return [x.weight_decay if x.embed_weight_decay is None else x.embed_weight_decay for x in t]


@torch.no_grad()
def _adamw_(params, grads, exp_avgs, exp_avg_sqs, step: int, lr: float, wd: float, betas, eps) -> None:
    """AdamW's update of these tensors in place (slices of one or more runs): the fused CPU kernel that
    `torch.optim.AdamW(fused=True)` calls, as single runs train (batched runs are on the CPU in float32, where
    it exists). Every tensor must be contiguous: the kernel reads memory in order (torch 2.13 misreads a
    non-contiguous gradient), and an update written into a copy would be lost. `BatchedStepper.update` sees
    to it."""
    steps = [torch.tensor(float(step))] * len(params)  # the kernel reads the step count, torch.optim increments it
    torch._fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, [], steps, lr=lr, beta1=betas[0], beta2=betas[1],
                        weight_decay=wd, eps=eps, amsgrad=False, maximize=False)


def train_batched(cfgs: list[RunConfig], outs: list[str | Path], *, progress: bool | None = None) -> list[TrainResult]:
    """Train the runs `cfgs` (which must share a `batch_key`) together into the directories `outs`."""
    if len(cfgs) != len(outs) or not cfgs:
        raise ValueError("train_batched needs one output directory per config")
    for c in cfgs:
        c.validate()
        reason = why_not_batchable(c)
        if reason:
            raise ConfigError(f"cannot batch this run: {reason}")
    if len({batch_key(c) for c in cfgs}) != 1:
        raise ConfigError(f"batched runs may differ only in {', '.join(sorted(BATCHABLE_KEYS))}")
    for o in outs:
        check_out_dir(Path(o))
    stores = [RunStore(o) for o in outs]
    held = []
    try:
        for s in stores:
            s.acquire()
            held.append(s)
        return _train_locked(cfgs, stores, progress)
    finally:
        for s in held:
            s.release()


def _start(cfgs: list[RunConfig], stores: list[RunStore], task: Task):
    """Open or create every run directory; the common step to start from and each run's resume state."""
    latest = []
    for cfg, store in zip(cfgs, stores):
        if open_run(cfg, store) is None:
            store.write_config(config_record(cfg))
            store.write_split({"train_idx": task.train_idx, "test_idx": task.test_idx})
            latest.append(None)
        else:
            latest.append(store.latest_resume())
    starts = {0 if x is None else x[0] for x in latest}
    if len(starts) != 1:
        raise StepMismatch(f"the runs of a batch stopped at different steps {sorted(starts)}: train them one by one")
    return starts.pop(), latest


class BatchedStepper:
    """M runs' step at once: a vmapped fused forward over their stacked parameters and AdamW on the stacks."""

    def __init__(self, cfgs: list[RunConfig], task: Task, start: int, latest: list) -> None:
        keep_freed_memory()  # each step reuses its buffers instead of page-faulting fresh ones
        self.cfgs = cfgs
        models = [build_tensors(c.model, task.d_vocab, task.d_vocab_out, task.n_ctx) for c in cfgs]
        for c, m in zip(cfgs, models):
            if c.accel.init_scale != 1.0 and start == 0:
                accel.scale_init_(trainable_parameters(m), c.accel.init_scale)
        self.names = list(named_tensors(models[0]))
        self.trainable = list(trainable_parameters(models[0]))
        self.params = {n: torch.stack([named_tensors(m)[n].detach() for m in models]).clone() for n in self.names}
        self.opt = {n: {"exp_avg": torch.zeros_like(self.params[n]), "exp_avg_sq": torch.zeros_like(self.params[n])}
                    for n in self.trainable}
        if start > 0:
            for i, (_, model_t, resume_t, _) in enumerate(latest):
                for n in self.names:
                    self.params[n][i] = model_t[n]
                for n in self.trainable:
                    for k in ("exp_avg", "exp_avg_sq"):
                        self.opt[n][k][i] = resume_t[f"opt.{n}.{k}"]
        for n in self.trainable:
            self.params[n].requires_grad_(True)
        # each run's (parameter, exp_avg, exp_avg_sq) slices: views that the in-place updates keep valid
        self.slices = {n: list(zip(self.params[n].data.unbind(0), self.opt[n]["exp_avg"].unbind(0),
                                   self.opt[n]["exp_avg_sq"].unbind(0))) for n in self.trainable}
        assert all(t.is_contiguous() for views in self.slices.values() for run in views for t in run)
        self.updates = start
        self.lr = {n: _hyper(cfgs, "embed_lr" if n in EMBEDDING_PARAMS else "lr") for n in self.trainable}
        self.wd = {n: _hyper(cfgs, "embed_wd" if n in EMBEDDING_PARAMS else "wd") for n in self.trainable}
        x, y = task.tokens, task.labels
        self.xtr, self.ytr = x[task.train_idx], y[task.train_idx]
        self.xte, self.yte = x[task.test_idx], y[task.test_idx]
        kind, mcfg, pos = cfgs[0].train.loss, cfgs[0].model, task.answer_pos
        self.sq_names = [n for n in self.names if n not in BUFFERS]

        def losses(p, xb, yb):
            return scoring.task_loss(fused_logits(p, mcfg, xb, pos), yb, kind)

        def evaluate(p, xb, yb):
            logits = fused_logits(p, mcfg, xb, pos)
            acc = ((logits.argmax(dim=-1) == yb) | (yb < 0)).all(dim=-1).to(torch.float64).mean()
            scored = (yb >= 0).flatten()
            sc = (collapsed_rows(logits.flatten(0, -2)) & scored).sum() / scored.sum().clamp(min=1)
            return scoring.task_loss(logits, yb, kind), acc, sc

        self.batched_loss = torch.func.vmap(losses, in_dims=(0, None, None))
        self.batched_eval = torch.func.vmap(evaluate, in_dims=(0, None, None))

    def forward(self, step: int) -> torch.Tensor:
        return self.batched_loss(self.params, self.xtr, self.ytr).sum()

    def metrics(self, step: int, runs: Sequence[int], loss: torch.Tensor | None) -> list[dict]:
        with torch.no_grad():
            tr_loss, tr_acc, tr_sc = self.batched_eval(self.params, self.xtr, self.ytr)
            te_loss, te_acc, _ = self.batched_eval(self.params, self.xte, self.yte)
            sq = sum(self.params[n].detach().double().pow(2).flatten(1).sum(1) for n in self.sq_names).tolist()
        return [{"train_loss": tr_loss[i].item(), "train_acc": tr_acc[i].item(),
                 "train_softmax_collapse": tr_sc[i].item(), "test_loss": te_loss[i].item(),
                 "test_acc": te_acc[i].item(), "weight_sq": sq[i], "weight_norm": math.sqrt(sq[i]),
                 "lr": self.cfgs[i].train.lr * warmup_factor(self.cfgs[i], step)} for i in runs]

    def update(self, step: int, loss: torch.Tensor, alive: Sequence[bool]) -> None:
        """AdamW on the live runs' slices of the stacks (contiguous views, updated in place): one fused call for
        all slices that share a learning rate and weight decay; ended runs are left as they are."""
        grads = torch.autograd.grad(loss, [self.params[n] for n in self.trainable])
        # vmapped backwards can hand back transposed gradients: made contiguous once, then sliced per run
        grads = {n: g.contiguous().unbind(0) for n, g in zip(self.trainable, grads)}
        betas, eps = tuple(self.cfgs[0].train.betas), self.cfgs[0].train.eps
        groups: dict[tuple[float, float], tuple[list, list, list, list]] = {}
        for i, cfg in enumerate(self.cfgs):
            if not alive[i]:
                continue
            warm = warmup_factor(cfg, step)
            for n in self.trainable:
                ps, gs, ms, vs = groups.setdefault((self.lr[n][i] * warm, self.wd[n][i]), ([], [], [], []))
                p, m, v = self.slices[n][i]
                ps.append(p)
                gs.append(grads[n][i])
                ms.append(m)
                vs.append(v)
        for (lr, wd), tensors in groups.items():
            _adamw_(*tensors, step + 1, lr, wd, betas, eps)
        self.updates = step + 1

    def state(self, run: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        resume = {}
        for n in self.trainable:
            resume[f"opt.{n}.step"] = torch.tensor(float(self.updates))
            resume[f"opt.{n}.exp_avg"] = self.opt[n]["exp_avg"][run]
            resume[f"opt.{n}.exp_avg_sq"] = self.opt[n]["exp_avg_sq"][run]
        return {n: self.params[n][run].detach() for n in self.names}, resume


def _train_locked(cfgs: list[RunConfig], stores: list[RunStore], progress) -> list[TrainResult]:
    task = make_task(cfgs[0].task)
    start, latest = _start(cfgs, stores, task)
    stepper = BatchedStepper(cfgs, task, start, latest)
    slots, wall_offset = [Slot(c, s) for c, s in zip(cfgs, stores)], 0.0
    for slot, x in zip(slots, latest):
        slot.store.truncate_metrics(start - 1)
        if x is not None:
            wall_offset = max(wall_offset, slot.resume_from(x[3]))
    result = run_loop(stepper, slots, start, wall_offset=wall_offset, resumed=start > 0, progress=progress,
                      desc=f"{len(cfgs)} runs")
    return [TrainResult(out=s.store.path, step=min(result.step, s.total), grokked_step=s.grokked_step,
                        interrupted=result.interrupted, metrics=s.last_row) for s in slots]
