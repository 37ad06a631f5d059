"""Training: `python -m grokinterp.train PRESET [--out DIR] [--set key=value ...] [--stop-when-grokked]`.

`train(cfg, out)` runs AdamW on the answer-position loss and writes a run directory (see `grokinterp.store`):
a dense checkpoint schedule, a metrics row every `log_every` steps, and the optimizer state of the latest two
checkpoints. The loop itself is `grokinterp.loop.run_loop`, shared with model batches; this module is the
single-run `Stepper` and the set-up around it, resolved before the loop starts: the task, the model, the
parameter set-ups of `accel` (init scale, GrokTransfer's embedding, fixed norm), the optimizer and the
gradient filter.

Running the same command again resumes from the latest checkpoint (or, if that one fails verification, from
the one before it) and gives bitwise the same parameters as an uninterrupted run: on CPU nothing in a step
depends on the thread count's summation order (see `grokinterp.engine`) and minibatch order is a pure
function of (seed, epoch). A larger `train.steps` extends a finished run (config.json then records the new
budget). Ctrl-C or SIGTERM finishes the current step, writes a checkpoint and exits with code 130.

Step convention: "step s" is the state after s optimizer updates; step 0 is the initialisation.
The learning rate of update s (0-based) is `lr * min(s / warmup_steps, 1)`, Nanda et al.'s
`LambdaLR(lambda s: min(s / 10, 1))`, so the very first update has lr 0.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from grokinterp import accel, models
from grokinterp.allocator import keep_freed_memory
from grokinterp.analysis.collapse import softmax_collapse
from grokinterp.config import RESUMABLE_KEYS, ConfigError, RunConfig
from grokinterp.loop import Slot, checkpoint_schedule, lr_at, run_loop, warmup_factor
from grokinterp.models import (
    EMBEDDING_PARAMS,
    architecture_of,
    build_model,
    fused_scored,
    load_tensors_,
    named_tensors,
    trainable_parameters,
    weight_sq,
)
from grokinterp.record import config_from_record, config_record
from grokinterp.scoring import Scored
from grokinterp.store import CheckpointError, RunLockedError, RunStore
from grokinterp.tasks import Task, make_task

__all__ = ["TrainResult", "checkpoint_schedule", "lr_at", "main", "train", "warmup_factor"]


class DivergedError(RuntimeError):
    """The train loss became non-finite (lr too large?); the run is checkpointed at that step."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device={name!r} but CUDA is not available on this machine")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("train.device='mps' but MPS is not available on this machine")
    return torch.device(name)


@dataclass
class TrainResult:
    out: Path
    step: int  # last step reached (checkpointed)
    grokked_step: int | None  # first logged step with test accuracy >= grok_threshold
    interrupted: bool
    metrics: dict


# ----------------------------------------------------------------------------------------------- optimizer



def param_groups(cfg: RunConfig, params: dict[str, torch.nn.Parameter]) -> list[dict]:
    """One AdamW group, or two when `train.embed_lr` / `train.embed_weight_decay` give the embedding its own
    (Liu et al.'s representation vs decoder learning rates). `base_lr` is the lr before warm-up."""
    t = cfg.train
    if t.embed_lr is None and t.embed_weight_decay is None:
        return [{"params": list(params.values()), "base_lr": t.lr, "lr": t.lr, "weight_decay": t.weight_decay}]
    emb = [p for n, p in params.items() if n in EMBEDDING_PARAMS]
    rest = [p for n, p in params.items() if n not in EMBEDDING_PARAMS]
    e_lr = t.lr if t.embed_lr is None else t.embed_lr
    e_wd = t.weight_decay if t.embed_weight_decay is None else t.embed_weight_decay
    groups = [{"params": rest, "base_lr": t.lr, "lr": t.lr, "weight_decay": t.weight_decay},
              {"params": emb, "base_lr": e_lr, "lr": e_lr, "weight_decay": e_wd}]
    return [g for g in groups if g["params"]]


class Optimizers:
    """Several torch optimizers stepped as one (Muon for the hidden matrices, AdamW for the rest): the
    `param_groups`, `state`, `step` and `zero_grad` the training loop uses."""

    def __init__(self, *opts: torch.optim.Optimizer) -> None:
        self.opts = opts

    @property
    def param_groups(self) -> list[dict]:
        return [g for o in self.opts for g in o.param_groups]

    @property
    def state(self) -> dict:
        return {p: s for o in self.opts for p, s in o.state.items()}

    def step(self) -> None:
        for o in self.opts:
            o.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        for o in self.opts:
            o.zero_grad(set_to_none=set_to_none)


def make_adamw(cfg: RunConfig, params: dict[str, torch.nn.Parameter]) -> torch.optim.AdamW:
    kw = dict(lr=cfg.train.lr, betas=tuple(cfg.train.betas), eps=cfg.train.eps)
    try:
        return torch.optim.AdamW(param_groups(cfg, params), fused=True, **kw)
    except (RuntimeError, TypeError):  # fused AdamW unavailable for this device/dtype
        return torch.optim.AdamW(param_groups(cfg, params), foreach=True, **kw)


def make_optimizer(cfg: RunConfig, params: dict[str, torch.nn.Parameter]) -> Optimizers:
    """AdamW on every trainable tensor, or (`train.optimizer=muon`) `torch.optim.Muon` on the hidden matrices
    (the architecture's `muon_names`) with the same lr and weight decay (its "match_rms_adamw" scaling, Liu et
    al. 2025, makes AdamW's settings carry over) and AdamW on the rest."""
    t = cfg.train
    hidden = set(architecture_of(cfg.model).muon_names(params)) if t.optimizer == "muon" else set()
    rest = {n: p for n, p in params.items() if n not in hidden}
    opts = [make_adamw(cfg, rest)] if rest else []
    if hidden:
        opts.append(torch.optim.Muon([{"params": [params[n] for n in sorted(hidden)], "base_lr": t.lr}], lr=t.lr,
                                     weight_decay=t.weight_decay, momentum=t.muon_momentum,
                                     adjust_lr_fn="match_rms_adamw"))
    return Optimizers(*opts)


def optimizer_tensors(opt: Optimizers, names: dict[int, str]) -> dict[str, torch.Tensor]:
    """The optimizers' state as flat tensors `opt.{param}.{key}` (AdamW: step, exp_avg, exp_avg_sq; Muon:
    momentum_buffer), empty before the first update."""
    out = {}
    for p, state in opt.state.items():
        for k, v in state.items():
            out[f"opt.{names[id(p)]}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    return out


def load_optimizer_tensors(opt: Optimizers, params: dict[str, torch.nn.Parameter],
                           tensors: dict[str, torch.Tensor]) -> None:
    """The inverse of `optimizer_tensors`. No `opt.*` tensors at all is the state before the first update
    (a run checkpointed at step 0): the optimizers stay fresh."""
    if not any(k.startswith("opt.") for k in tensors):
        return
    name_of = {id(p): n for n, p in params.items()}
    for o in opt.opts:
        group = o.param_groups[0]
        muon = isinstance(o, torch.optim.Muon)
        keys = ("momentum_buffer",) if muon else ("step", "exp_avg", "exp_avg_sq")
        step_on_device = bool(group.get("fused") or group.get("capturable"))  # as torch.optim.AdamW inits it
        for p in (q for g in o.param_groups for q in g["params"]):
            name, state = name_of[id(p)], {}
            for key in keys:
                t = tensors.get(f"opt.{name}.{key}")
                if t is None:
                    raise CheckpointError(f"resume state lacks optimizer tensor opt.{name}.{key}")
                state[key] = t.to(p.device) if key != "step" or step_on_device else t.clone()
            o.state[p] = state


def batch_size(setting: int, n_train: int) -> int:
    """The minibatch size of `train.batch_size` on `n_train` examples (0: full batch)."""
    return min(512, math.ceil(n_train / 2)) if setting == -1 else setting


def minibatch(cfg: RunConfig, n_train: int, step: int, device: torch.device) -> torch.Tensor | None:
    """Row indices (into the train set) of the minibatch of update `step`; None for full batch."""
    bs = batch_size(cfg.train.batch_size, n_train)
    if bs <= 0 or bs >= n_train:
        return None
    per_epoch = n_train // bs
    epoch, i = divmod(step, per_epoch)
    g = torch.Generator().manual_seed(cfg.train.seed * 1_000_003 + epoch)
    return torch.randperm(n_train, generator=g)[i * bs:(i + 1) * bs].to(device)


# ----------------------------------------------------------------------------------------------- metrics


def record_metrics(cfg: RunConfig, task: Task, pred: Scored, row: dict, prefix: str,
                   loss: float | None = None) -> None:
    """Loss and accuracy of the predictions into `row` as `{prefix}_loss`, `{prefix}_acc` (and per position)."""
    row[f"{prefix}_loss"] = pred.loss(cfg.train.loss).item() if loss is None else loss
    row[f"{prefix}_acc"] = pred.accuracy()
    if prefix == "train" and pred.targets is None:  # a regression has no softmax to collapse
        row["train_softmax_collapse"] = softmax_collapse(pred.logits.detach())
    if len(task.answer_pos) > 1:
        row[f"{prefix}_token_acc"] = pred.token_accuracy()
    if task.per_position:
        row[f"{prefix}_loss_pos"], row[f"{prefix}_acc_pos"] = pred.position_losses()


# ----------------------------------------------------------------------------------------------- the stepper


class SingleStepper:
    """One run's step: forward on the batch of update s, metrics, backward, Grokfast filter, AdamW, fixed
    norm. Built by `SingleStepper.create` with every parameter set-up already applied."""

    def __init__(self, cfg: RunConfig, task: Task, device: torch.device, *, resuming: bool = False) -> None:
        keep_freed_memory()  # each step reuses its buffers instead of page-faulting fresh ones
        self.cfg, self.task, self.device = cfg, task, device
        self.model = build_model(cfg.model, task.d_vocab, task.d_vocab_out, task.n_ctx, device)
        self.params = named_tensors(self.model)
        self.trainable = trainable_parameters(self.model)
        if cfg.accel.init_scale != 1.0 and not resuming:
            accel.scale_init_(self.trainable, cfg.accel.init_scale)
        self.factors: dict[str, torch.nn.Parameter] = {}
        self.meta = self._setup_transfer()
        self.names = {id(p): n for n, p in self.trainable.items()}
        self.opt = make_optimizer(cfg, self.trainable)
        self.filt = accel.make_filter(cfg.accel)
        self.filt_state = self.filt.init(self.trainable) if self.filt is not None else None
        if cfg.accel.weight_norm > 0 and not resuming:
            accel.rescale_to_norm_(self.trainable, cfg.accel.weight_norm)
            self._sync_embedding()
        if task.targets is not None and cfg.train.loss != "mse":
            raise ConfigError(f"task.family={cfg.task.family} is a regression: it trains with train.loss=mse, "
                              f"not {cfg.train.loss!r}")
        self.targets = task.targets.to(device) if task.targets is not None else None
        self.tokens, self.labels = task.tokens.to(device), task.labels.to(device)
        self.train_idx, self.test_idx = task.train_idx.to(device), task.test_idx.to(device)
        self.train_tokens, self.train_labels = self.tokens[self.train_idx], self.labels[self.train_idx]
        self.test_tokens, self.test_labels = self.tokens[self.test_idx], self.labels[self.test_idx]
        self._batch: tuple | None = None

    # -- parameter set-ups

    def _setup_transfer(self) -> dict[str, str]:
        """GrokTransfer: write A B into the embedding ("merged") or train A and B in its place ("factored",
        as `transfer.A`/`transfer.B` in `trainable`). On resume the values are then overwritten from the
        resume file. Returns the checkpoint metadata naming the weak run."""
        cfg = self.cfg
        if not cfg.accel.transfer_from:
            return {}
        A, weak_step = accel.weak_embedding(cfg)
        emb = self.params["embed.weight"]
        if A.shape[0] != emb.shape[0]:
            raise ConfigError(f"accel.transfer_from: the weak embedding has {A.shape[0]} rows, this model "
                              f"{emb.shape[0]}")
        B = accel.random_b(A, emb.shape[1], cfg.model.seed)
        A, B = A.to(device=self.device, dtype=emb.dtype), B.to(device=self.device, dtype=emb.dtype)
        meta = {"transfer_from": str(cfg.accel.transfer_from), "transfer_step": str(weak_step)}
        if cfg.accel.transfer_mode == "merged":
            with torch.no_grad():
                emb.copy_(A @ B)
            return meta
        self.factors = {"transfer.A": torch.nn.Parameter(A.clone()), "transfer.B": torch.nn.Parameter(B)}
        emb.requires_grad_(False)  # the embedding is A B, recomputed every step
        self.trainable.pop("embed.weight", None)
        self.trainable.update(self.factors)
        self._sync_embedding()
        return meta

    @torch.no_grad()
    def _sync_embedding(self) -> None:
        """Keep the model's embedding equal to A B (what checkpoints, evaluations and analyses read)."""
        if self.factors:
            self.params["embed.weight"].copy_(self.factors["transfer.A"] @ self.factors["transfer.B"])

    def restore(self, model_t: dict, resume_t: dict) -> None:
        """Load a resume point: model tensors, optimizer, filter and GrokTransfer factors."""
        load_tensors_(self.model, model_t)
        load_optimizer_tensors(self.opt, self.trainable, resume_t)
        if self.filt is not None:
            self.filt_state = accel.load_state(self.filt, self.trainable, resume_t)
        with torch.no_grad():
            for n, p in self.factors.items():
                p.copy_(resume_t[n].to(p.device))

    # -- the Stepper protocol

    def _predict(self, params, tokens, labels, generator: torch.Generator | None = None) -> Scored:
        """`generator`: a regularised training forward (dropout masks drawn from it). A regression's labels are
        example indices: its predictions are scored against their targets."""
        pred = self._scored(params, tokens, labels, generator)
        if self.targets is not None:
            pred = pred.with_targets(self.targets[labels.reshape(-1)], self.task.tolerance)
        return pred

    def _scored(self, params, tokens, labels, generator: torch.Generator | None) -> Scored:
        ans = self.task.answer_pos
        if self.cfg.train.engine != "hooked":
            return fused_scored(params, self.cfg.model, tokens, ans, labels, dropout_generator=generator)
        if params is self.params and generator is None:
            return Scored.from_logits(models.hooked_logits(self.model, tokens, ans), labels)
        kw = {"dropout_generator": generator} if generator is not None else {}
        logits = torch.func.functional_call(self.model, params, (tokens,), kw)
        return Scored.from_logits(logits[:, list(ans)], labels)

    @property
    def regularised(self) -> bool:
        """True when training forwards are noisy (dropout, weight noise), so they are not evaluations."""
        return self.cfg.model.dropout > 0 or self.cfg.train.weight_noise > 0

    def _noise(self, params: dict[str, torch.Tensor], step: int) -> tuple[dict[str, torch.Tensor], torch.Generator]:
        """The weights of update `step` with Power et al.'s weight noise (N(0, weight_noise^2) on every
        trainable tensor, fresh each step) and the generator of its dropout masks, seeded by
        (`train.seed`, step) so that a resumed run draws the same noise."""
        g = torch.Generator(self.device).manual_seed(self.cfg.train.seed * 2**32 + step)
        sigma = self.cfg.train.weight_noise
        if sigma == 0:
            return params, g
        noisy = dict(params)
        for n in self.trainable:
            p = params[n]
            noisy[n] = p + sigma * torch.randn(p.shape, generator=g, device=p.device, dtype=p.dtype)
        return noisy, g

    def train_batch(self, step: int):
        """(tokens, labels, full_or_fresh) of update `step`: `full_or_fresh` when the batch is the whole train
        set or an infinite-mode batch, so its own forward doubles as the train evaluation."""
        if self.task.sampler is not None:
            xb, yb = (t.to(self.device) for t in self.task.sampler(step, self.cfg.train.batch_size))
            return xb, yb, True
        batch = minibatch(self.cfg, len(self.train_idx), step, self.device)
        if batch is None:
            return self.train_tokens, self.train_labels, True
        return self.train_tokens[batch], self.train_labels[batch], False

    def forward(self, step: int) -> torch.Tensor:
        xb, yb, whole = self.train_batch(step)
        params = {**self.params, "embed.weight": self.factors["transfer.A"] @ self.factors["transfer.B"]} \
            if self.factors else self.params
        generator = None
        if self.regularised:
            params, generator = self._noise(params, step)
        pred = self._predict(params, xb, yb, generator)
        self._batch = (pred, whole and not self.regularised)
        return pred.loss(self.cfg.train.loss)

    def metrics(self, step: int, runs: Sequence[int], loss: torch.Tensor | None) -> list[dict]:
        cfg, task = self.cfg, self.task
        row: dict = {}
        with torch.no_grad():
            if loss is not None and self._batch[1]:
                record_metrics(cfg, task, self._batch[0].detach(), row, "train", loss.item())
            elif task.sampler is not None:
                xb, yb, _ = self.train_batch(step)
                record_metrics(cfg, task, self._predict(self.params, xb, yb), row, "train")
            else:
                record_metrics(cfg, task, self._predict(self.params, self.train_tokens, self.train_labels), row,
                               "train")
            record_metrics(cfg, task, self._predict(self.params, self.test_tokens, self.test_labels), row, "test")
        wsq = weight_sq(self.params)
        row.update({"weight_sq": wsq, "weight_norm": math.sqrt(wsq), "lr": lr_at(cfg, step)})
        return [row]

    def update(self, step: int, loss: torch.Tensor, alive: Sequence[bool]) -> None:
        warm = warmup_factor(self.cfg, step)
        for group in self.opt.param_groups:
            group["lr"] = group["base_lr"] * warm
        loss.backward()
        self._batch = None
        if self.filt is not None:
            grads = {n: p.grad for n, p in self.trainable.items() if p.grad is not None}
            filtered, self.filt_state = self.filt.update(grads, self.filt_state)
            for n, g in filtered.items():
                self.trainable[n].grad = g
        if self.cfg.accel.orthogonal_grad:
            for p in self.trainable.values():
                if p.grad is not None:
                    p.grad = accel.orthogonal_gradient(p.grad, p)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        if self.cfg.accel.weight_norm > 0:
            accel.rescale_to_norm_(self.trainable, self.cfg.accel.weight_norm)
        self._sync_embedding()

    def state(self, run: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        resume = optimizer_tensors(self.opt, self.names)
        resume.update({n: p.detach() for n, p in self.factors.items()})
        if self.filt_state is not None:
            resume.update(accel.state_tensors(self.filt_state))
        return {n: t.detach() for n, t in self.params.items()}, resume


# ----------------------------------------------------------------------------------------------- run directory


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
    directory with a config but no checkpoint yet holds nothing to lose: a new config replaces it."""
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


def _write_record(cfg: RunConfig, store: RunStore, task: Task, saved: RunConfig | None) -> None:
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


def train(
    cfg: RunConfig, out: str | Path, *, stop_when_grokked: bool = False, progress: bool | None = None
) -> TrainResult:
    """Train (or resume) the run `cfg` into the directory `out`."""
    cfg.validate()
    check_out_dir(Path(out))
    store = RunStore(out)
    store.acquire()
    try:
        return _train_locked(cfg, store, stop_when_grokked, progress)
    finally:
        store.release()


def _train_locked(cfg: RunConfig, store: RunStore, stop_when_grokked: bool, progress) -> TrainResult:
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
    _write_record(cfg, store, task, saved)
    store.truncate_metrics(start - 1)  # step `start` is logged again, identically
    result = run_loop(stepper, [slot], start, wall_offset=wall_offset, resumed=latest is not None,
                      stop_when_grokked=stop_when_grokked, progress=progress)
    if slot.diverged_step is not None:
        raise DivergedError(f"the train loss is {slot.last_row['train_loss']} at step {slot.diverged_step} "
                            f"(train.lr={cfg.train.lr:g} too large?); checkpoint written to {store.path}")
    return TrainResult(out=store.path, step=result.step, grokked_step=slot.grokked_step,
                       interrupted=result.interrupted, metrics=slot.last_row)


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


def main(argv: list[str] | None = None) -> int:
    from grokinterp.presets import PRESETS, get_preset

    parser = argparse.ArgumentParser(prog="python -m grokinterp.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("preset", help=f"preset name ({', '.join(PRESETS)})")
    parser.add_argument("--out", default=None, help="run directory (default: checkpoints/PRESET)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.weight_decay=0.3 (repeatable)")
    parser.add_argument("--stop-when-grokked", action="store_true",
                        help="stop at the first logged step with test accuracy >= train.grok_threshold")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        cfg = get_preset(args.preset).with_overrides(args.overrides)
        out = Path(args.out) if args.out else Path("checkpoints") / args.preset
        result = train(cfg, out, stop_when_grokked=args.stop_when_grokked,
                       progress=False if args.no_progress else None)
    except Exception as e:  # a user's mistake is one line; anything else is a bug and keeps its traceback
        msg = user_error(e)
        if msg is None:
            raise
        print(f"error: {msg}", file=sys.stderr)
        return 2
    m = result.metrics
    if result.interrupted:
        print(f"interrupted at step {result.step}; checkpoint written to {result.out}. "
              "Run the same command to resume.", file=sys.stderr)
        return 130
    summary = (f"step {result.step}: train_acc {m.get('train_acc', float('nan')):.4f} "
               f"test_acc {m.get('test_acc', float('nan')):.4f} test_loss {m.get('test_loss', float('nan')):.3g}")
    if result.grokked_step is not None:
        summary += f"; grokked (test_acc >= {cfg.train.grok_threshold}) at step {result.grokked_step}"
    print(f"{summary}\nrun written to {result.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
