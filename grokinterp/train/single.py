"""The single-run `Stepper` of the shared loop (`grokinterp.train.loop`): the task, the model, the parameter
set-ups of `accel` (init scale, GrokTransfer's embedding, fixed norm), the optimiser and the gradient filter,
resolved before the loop starts; then forward, loss, backward, transform, clip (`train.grad_clip`), optimiser step.

With `train.precision=bfloat16` the training forward runs under `torch.autocast` (bfloat16 matrix products,
accumulated in float32); parameters, gradients, the optimiser and the float64 loss stay as they are, and every
metrics row is evaluated in float32."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import torch

from grokinterp import models
from grokinterp.allocator import keep_freed_memory
from grokinterp.config import ConfigError, RunConfig
from grokinterp.models import (
    architecture_of,
    build_model,
    build_tensors,
    fused_scored,
    load_tensors_,
    named_tensors,
    trainable_parameters,
    weight_sq,
)
from grokinterp.scoring import Scored, record_metrics
from grokinterp.tasks import Task
from grokinterp.train import accel
from grokinterp.train.initfrom import load_init_
from grokinterp.train.loop import lr_at, warmup_factor
from grokinterp.train.optim import load_optimizer_tensors, make_optimizer, optimizer_tensors


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


class SingleStepper:
    """One run's step: forward on the batch of update s, metrics, backward, Grokfast filter, AdamW, fixed
    norm. Built by `SingleStepper.create` with every parameter set-up already applied."""

    def __init__(self, cfg: RunConfig, task: Task, device: torch.device, *, resuming: bool = False) -> None:
        keep_freed_memory()  # each step reuses its buffers instead of page-faulting fresh ones
        self.cfg, self.task, self.device = cfg, task, device
        # the hooked engine runs the hooked model; the fused one only needs its tensors (no TransformerLens)
        build = build_model if cfg.train.engine == "hooked" else build_tensors
        self.model = build(cfg.model, task.d_vocab, task.d_vocab_out, task.n_ctx, device)
        self.params = named_tensors(self.model)
        self.trainable = trainable_parameters(self.model)
        if cfg.accel.init_scale != 1.0 and not resuming:
            accel.scale_init_(self.trainable, cfg.accel.init_scale)
        self.factors: dict[str, torch.nn.Parameter] = {}
        self.arch = architecture_of(cfg.model)
        self.embedding = self.arch.embedding  # GrokTransfer's target tensor
        self.meta = self._setup_transfer()
        if cfg.train.init_from and not resuming:
            self.meta.update(load_init_(cfg, self.params))
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
        emb = self.params[self.embedding]
        rows = self.arch.input_embedding(self.params)
        if A.shape[0] != rows.shape[0]:
            raise ConfigError(f"accel.transfer_from: the weak run's embedding is {tuple(A.shape)} (one row per input), "
                              f"this model's {tuple(rows.shape)} (model.arch={cfg.model.arch!r}): they need as many "
                              f"rows")
        B = accel.random_b(A, rows.shape[1], cfg.model.seed)
        A, B = A.to(device=self.device, dtype=emb.dtype), B.to(device=self.device, dtype=emb.dtype)
        meta = {"transfer_from": str(cfg.accel.transfer_from),
                "transfer_step": "" if weak_step is None else str(weak_step)}
        if cfg.accel.transfer_mode == "merged":
            with torch.no_grad():
                emb.copy_(self.arch.stored_embedding(A @ B))
            return meta
        self.factors = {"transfer.A": torch.nn.Parameter(A.clone()), "transfer.B": torch.nn.Parameter(B)}
        emb.requires_grad_(False)  # the embedding is A B, recomputed every step
        self.trainable.pop(self.embedding, None)
        self.trainable.update(self.factors)
        self._sync_embedding()
        return meta

    def _factored_embedding(self) -> torch.Tensor:
        """A B in the orientation of the model's embedding tensor."""
        return self.arch.stored_embedding(self.factors["transfer.A"] @ self.factors["transfer.B"])

    @torch.no_grad()
    def _sync_embedding(self) -> None:
        """Keep the model's embedding equal to A B (what checkpoints, evaluations and analyses read)."""
        if self.factors:
            self.params[self.embedding].copy_(self._factored_embedding())

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

    def autocast(self) -> contextlib.AbstractContextManager:
        """The training forward's context: `torch.autocast` to bfloat16 with `train.precision=bfloat16`."""
        if self.cfg.train.precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def forward(self, step: int) -> torch.Tensor:
        xb, yb, whole = self.train_batch(step)
        params = {**self.params, self.embedding: self._factored_embedding()} if self.factors else self.params
        generator = None
        if self.regularised:
            params, generator = self._noise(params, step)
        with self.autocast():
            pred = self._predict(params, xb, yb, generator)
        # the training forward doubles as the train evaluation only when it is a clean float32 one
        self._batch = (pred, whole and not self.regularised and self.cfg.train.precision == "float32")
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
        if self.cfg.train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(list(self.trainable.values()), self.cfg.train.grad_clip)
        for p in self.trainable.values():  # torch's fused CPU AdamW misreads non-contiguous gradients
            if p.grad is not None and not p.grad.is_contiguous():
                p.grad = p.grad.contiguous()
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
