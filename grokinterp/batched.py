"""Model batching: train many small runs at once in one process, `torch.func.vmap` over their stacked
parameters, each into its own run directory.

For tiny models (Liu et al.'s toy adder, small MLPs and transformers) a training step is dominated by
per-call overhead, so one vmapped forward/backward over M stacked models costs far less than M separate
steps (`python -m grokinterp.bench sweep` measures it). The runs may differ only in `BATCHABLE_KEYS`
(learning rates, weight decays, init seed and scale); everything else, the task and split included, must be
equal, training must be full-batch (`train.batch_size = 0`) on a finite task, and accel filters,
GrokTransfer and fixed-norm training are not batched.
`batch_key(cfg)` says which configs can share a batch and `why_not_batchable(cfg)` why one cannot.

The optimizer is AdamW written out on the stacked tensors with a learning rate and weight decay per run,
the same update as `torch.optim.AdamW` (decoupled decay, then the bias-corrected Adam step), so a batched
run follows its sequential twin to float rounding, not bitwise. Each run directory gets what `train()`
writes: config, split, metrics every `log_every` steps, the dense checkpoint schedule with the optimizer
state (in `train()`'s names) in the latest one, so `train()` can resume or extend a batched run on its own.
A batch resumes when all its runs stopped at the same checkpoint (as they do when a batch is interrupted);
the wall time recorded in each run is the batch's.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from grokinterp import accel, engine
from grokinterp.config import SAMPLED_FAMILIES, ConfigError, RunConfig
from grokinterp.models import BUFFERS, build_model, named_tensors, trainable_parameters
from grokinterp.store import RunStore
from grokinterp.tasks import make_task
from grokinterp.train import (
    EMBEDDING_PARAMS,
    TrainResult,
    _config_record,
    _open_run,
    _StopFlag,
    checkpoint_schedule,
    warmup_factor,
)

BATCHABLE_KEYS = frozenset({"train.lr", "train.weight_decay", "train.embed_lr", "train.embed_weight_decay",
                            "model.seed", "accel.init_scale", "train.grok_threshold", "preset"})


class StepMismatch(ValueError):
    """The runs of a batch stopped at different steps: they cannot resume together."""


def why_not_batchable(cfg: RunConfig) -> str | None:
    """None when `cfg` can train in a batch, else the reason (read off the config alone)."""
    if cfg.task.family in SAMPLED_FAMILIES:
        return "sampled or multi-position tasks train one by one"
    if cfg.train.batch_size > 0:
        return "minibatches train one by one"
    a = cfg.accel
    if a.grokfast != "none" or a.weight_norm > 0 or a.transfer_from:
        return "Grokfast, fixed-norm training and GrokTransfer train one by one"
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


def _hyper(cfgs: list[RunConfig], name: str) -> torch.Tensor:
    t = [c.train for c in cfgs]
    if name == "lr":
        return torch.tensor([x.lr for x in t], dtype=torch.float64)
    if name == "wd":
        return torch.tensor([x.weight_decay for x in t], dtype=torch.float64)
    if name == "embed_lr":
        return torch.tensor([x.lr if x.embed_lr is None else x.embed_lr for x in t], dtype=torch.float64)
    return torch.tensor([x.weight_decay if x.embed_weight_decay is None else x.embed_weight_decay for x in t],
                        dtype=torch.float64)


def _expand(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.to(like.dtype).reshape(-1, *([1] * (like.ndim - 1)))


@torch.no_grad()
def _adamw_(p, g, m, v, step: int, lr, wd, betas, eps) -> None:
    """torch.optim.AdamW's update (single-tensor form) with per-run lr and weight decay along dim 0."""
    b1, b2 = betas
    p.mul_(1 - lr * wd)
    m.lerp_(g, 1 - b1)
    v.mul_(b2).addcmul_(g, g, value=1 - b2)
    bc1, bc2 = 1 - b1**step, 1 - b2**step
    denom = (v.sqrt() / math.sqrt(bc2)).add_(eps)
    p.sub_(m / denom * (lr / bc1))


def train_batched(cfgs: list[RunConfig], outs: list[str | Path], *, progress: bool | None = None) -> list[TrainResult]:
    """Train the runs `cfgs` (which must share a `batch_key`) together into the directories `outs`."""
    from tqdm.auto import tqdm

    if len(cfgs) != len(outs) or not cfgs:
        raise ValueError("train_batched needs one output directory per config")
    for c in cfgs:
        c.validate()
        reason = why_not_batchable(c)
        if reason:
            raise ConfigError(f"cannot batch this run: {reason}")
    if len({batch_key(c) for c in cfgs}) != 1:
        raise ConfigError(f"batched runs may differ only in {', '.join(sorted(BATCHABLE_KEYS))}")
    stores = [RunStore(o) for o in outs]
    held = []
    try:
        for s in stores:
            s.acquire()
            held.append(s)
        return _train_locked(cfgs, stores, progress, tqdm)
    finally:
        for s in held:
            s.release()


def _start(cfgs, stores, task):
    """Open or create every run directory; the common step to start from and each run's resume state."""
    latest = []
    for cfg, store in zip(cfgs, stores):
        _, resuming = _open_run(cfg, store)
        if not resuming:
            store.write_config(_config_record(cfg))
            store.write_split({"train_idx": task.train_idx, "test_idx": task.test_idx})
            latest.append(None)
        else:
            latest.append(store.latest_resume())
    starts = {0 if x is None else x[0] for x in latest}
    if len(starts) != 1:
        raise StepMismatch(f"the runs of a batch stopped at different steps {sorted(starts)}: train them one by one")
    return starts.pop(), latest


def _train_locked(cfgs: list[RunConfig], stores: list[RunStore], progress, tqdm) -> list[TrainResult]:
    cfg0 = cfgs[0]
    task = make_task(cfg0.task)
    start, latest = _start(cfgs, stores, task)
    M = len(cfgs)
    models = [build_model(c.model, task.d_vocab, task.d_vocab_out, task.n_ctx) for c in cfgs]
    for c, m in zip(cfgs, models):
        if c.accel.init_scale != 1.0 and start == 0:
            accel.scale_init_(trainable_parameters(m), c.accel.init_scale)
    names = list(named_tensors(models[0]))
    trainable = list(trainable_parameters(models[0]))
    params = {n: torch.stack([named_tensors(m)[n].detach() for m in models]).clone() for n in names}
    state = {n: {"exp_avg": torch.zeros_like(params[n]), "exp_avg_sq": torch.zeros_like(params[n])} for n in trainable}
    wall_offset, grokked = 0.0, [None] * M
    if start > 0:
        for i, (_, model_t, resume_t, meta) in enumerate(latest):
            for n in names:
                params[n][i] = model_t[n]
            for n in trainable:
                for k in ("exp_avg", "exp_avg_sq"):
                    state[n][k][i] = resume_t[f"opt.{n}.{k}"]
            wall_offset = max(wall_offset, float(meta.get("wall_time", "0")))
            grokked[i] = int(meta["grokked_step"]) if meta.get("grokked_step", "") != "" else None
    for s in stores:
        s.truncate_metrics(start - 1)
    for n in trainable:
        params[n].requires_grad_(True)

    lr = {n: _hyper(cfgs, "embed_lr" if n in EMBEDDING_PARAMS else "lr") for n in trainable}
    wd = {n: _hyper(cfgs, "embed_wd" if n in EMBEDDING_PARAMS else "wd") for n in trainable}
    x, y = task.tokens, task.labels
    xtr, ytr, xte, yte = x[task.train_idx], y[task.train_idx], x[task.test_idx], y[task.test_idx]
    kind, mcfg, pos = cfg0.train.loss, cfg0.model, task.answer_pos

    def losses(p, xb, yb):
        return engine.task_loss(engine.fused_logits(p, mcfg, xb, pos), yb, kind)

    def evaluate(p, xb, yb):
        logits = engine.fused_logits(p, mcfg, xb, pos)
        acc = ((logits.argmax(dim=-1) == yb) | (yb < 0)).all(dim=-1).to(torch.float64).mean()
        return engine.task_loss(logits, yb, kind), acc

    batched_loss = torch.func.vmap(losses, in_dims=(0, None, None))
    batched_eval = torch.func.vmap(evaluate, in_dims=(0, None, None))
    totals = [c.train.steps for c in cfgs]
    total = max(totals)
    schedules = [set(checkpoint_schedule(c.train.steps, c.train.ckpt_every, c.train.ckpt_log_points)) for c in cfgs]
    t0 = time.perf_counter() - wall_offset
    betas, eps = tuple(cfg0.train.betas), cfg0.train.eps
    last_rows: list[dict] = [{} for _ in range(M)]
    pending: list[list[dict]] = [[] for _ in range(M)]  # metrics rows not yet written (see save)
    sq_names = [n for n in names if n not in BUFFERS]
    interrupted = False

    def save(i: int, step: int) -> None:
        meta = {"step": str(step), "wall_time": repr(time.perf_counter() - t0),
                "grokked_step": "" if grokked[i] is None else str(grokked[i])}
        # rows are written with the checkpoint they lead up to: after a crash, resume drops every row past
        # the last checkpoint anyway, so buffering them loses nothing and saves an fsync per log step per run
        stores[i].append_metrics(pending[i])
        pending[i] = []
        resume = {}
        for n in trainable:
            resume[f"opt.{n}.step"] = torch.tensor(float(step))
            resume[f"opt.{n}.exp_avg"] = state[n]["exp_avg"][i]
            resume[f"opt.{n}.exp_avg_sq"] = state[n]["exp_avg_sq"][i]
        stores[i].save_checkpoint(step, {n: params[n][i].detach() for n in names}, resume, meta)

    bar = tqdm(total=total, initial=start, disable=None if progress is None else not progress, mininterval=1.0,
               unit="step", desc=f"{M} runs", dynamic_ncols=True)
    step = start
    with _StopFlag() as flag:
        while True:
            active = [i for i in range(M) if step <= totals[i]]
            logs = [i for i in active if step % cfgs[i].train.log_every == 0 or step in schedules[i]
                    or step == totals[i]]
            if logs:
                with torch.no_grad():
                    tr_loss, tr_acc = batched_eval(params, xtr, ytr)
                    te_loss, te_acc = batched_eval(params, xte, yte)
                    sq = sum(params[n].detach().double().pow(2).flatten(1).sum(1) for n in sq_names).tolist()
                for i in logs:
                    wsq = sq[i]
                    row = {"step": step, "train_loss": tr_loss[i].item(), "train_acc": tr_acc[i].item(),
                           "test_loss": te_loss[i].item(), "test_acc": te_acc[i].item(), "weight_sq": wsq,
                           "weight_norm": math.sqrt(wsq), "lr": cfgs[i].train.lr * warmup_factor(cfgs[i], step),
                           "wall_time": time.perf_counter() - t0}
                    pending[i].append(row)
                    last_rows[i] = row
                    if grokked[i] is None and row["test_acc"] >= cfgs[i].train.grok_threshold:
                        grokked[i] = step
            already_saved = start > 0 and step == start
            for i in active:
                if (step in schedules[i] or flag.stop or step == totals[i]) and not already_saved:
                    save(i, step)
            if step == total:
                break
            if flag.stop:
                interrupted = True
                break
            loss = batched_loss(params, xtr, ytr).sum()
            grads = torch.autograd.grad(loss, [params[n] for n in trainable])
            warm = torch.tensor([warmup_factor(c, step) for c in cfgs], dtype=torch.float64)
            # runs past their own end keep their parameters: lr 0 and no decay
            alive = torch.tensor([float(step < t) for t in totals], dtype=torch.float64)
            for n, g in zip(trainable, grads):
                p = params[n]
                _adamw_(p.data, g, state[n]["exp_avg"], state[n]["exp_avg_sq"], step + 1,
                        _expand(lr[n] * warm * alive, p), _expand(wd[n], p), betas, eps)
            step += 1
            bar.update(1)
    bar.close()
    return [TrainResult(out=s.path, step=min(step, totals[i]), grokked_step=grokked[i], interrupted=interrupted,
                        metrics=last_rows[i]) for i, s in enumerate(stores)]
