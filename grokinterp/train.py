"""Training: `python -m grokinterp.train PRESET [--out DIR] [--set key=value ...] [--stop-when-grokked]`.

One function, `train(cfg, out)`, runs AdamW on the answer-position cross-entropy and writes a run directory
(see `grokinterp.store`): a dense checkpoint schedule, a metrics row every `log_every` steps, and the
optimizer state in the latest checkpoint. Running the same command again resumes from the latest
checkpoint and gives bitwise the same parameters as an uninterrupted run (full batch on CPU: nothing in a
step is random; minibatch order is a pure function of (seed, epoch)). Ctrl-C or SIGTERM finishes the
current step, writes a checkpoint and exits with code 130.

Step convention: "step s" is the state after s optimizer updates; step 0 is the initialisation.
The learning rate of update s (0-based) is `lr * min(s / warmup_steps, 1)`, Nanda et al.'s
`LambdaLR(lambda s: min(s / 10, 1))`, so the very first update has lr 0.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from grokinterp import accel, engine
from grokinterp.config import RESUMABLE_KEYS, ConfigError, RunConfig
from grokinterp.models import build_model, load_tensors_, named_tensors, trainable_parameters, weight_sq
from grokinterp.store import RunLockedError, RunStore
from grokinterp.tasks import Task, make_task


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


def checkpoint_schedule(total: int, every: int, log_points: int) -> list[int]:
    """Steps that get a checkpoint: 0, `log_points` log-spaced steps in [1, every], every multiple of
    `every`, and `total`. Memorisation happens in the first few hundred steps, hence the log part."""
    steps = {0, total}
    if log_points > 0:
        for i in range(log_points):
            steps.add(round(every ** (i / max(log_points - 1, 1))))
    steps.update(range(every, total + 1, every))
    return sorted(s for s in steps if 0 <= s <= total)


def warmup_factor(cfg: RunConfig, step: int) -> float:
    w = cfg.train.warmup_steps
    return min(step / w, 1.0) if w > 0 else 1.0


def lr_at(cfg: RunConfig, step: int) -> float:
    return cfg.train.lr * warmup_factor(cfg, step)


@dataclass
class TrainResult:
    out: Path
    step: int  # last step reached (checkpointed)
    grokked_step: int | None  # first logged step with test accuracy >= grok_threshold
    interrupted: bool
    metrics: dict


class _StopFlag:
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


def _optimizer_tensors(opt: torch.optim.Optimizer, names: dict[int, str]) -> dict[str, torch.Tensor]:
    out = {}
    for p, state in opt.state.items():
        for k, v in state.items():
            out[f"opt.{names[id(p)]}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    return out


def _load_optimizer_tensors(opt: torch.optim.Optimizer, params: dict[str, torch.nn.Parameter],
                            tensors: dict[str, torch.Tensor]) -> None:
    group = opt.param_groups[0]
    step_on_device = bool(group.get("fused") or group.get("capturable"))  # as torch.optim.AdamW inits it
    for name, p in params.items():
        state = {}
        for key in ("step", "exp_avg", "exp_avg_sq"):
            t = tensors.get(f"opt.{name}.{key}")
            if t is None:
                raise ValueError(f"resume state lacks optimizer tensor opt.{name}.{key}")
            state[key] = t.to(p.device) if key != "step" or step_on_device else t.clone()
        opt.state[p] = state


EMBEDDING_PARAMS = frozenset({"embed.weight", "transfer.A", "transfer.B"})


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


def make_optimizer(cfg: RunConfig, params: dict[str, torch.nn.Parameter]) -> torch.optim.AdamW:
    kw = dict(lr=cfg.train.lr, betas=tuple(cfg.train.betas), eps=cfg.train.eps)
    try:
        return torch.optim.AdamW(param_groups(cfg, params), fused=True, **kw)
    except (RuntimeError, TypeError):  # fused AdamW unavailable for this device/dtype
        return torch.optim.AdamW(param_groups(cfg, params), foreach=True, **kw)


def _batches(cfg: RunConfig, n_train: int, step: int, device: torch.device) -> torch.Tensor | None:
    """Row indices (into the train set) of the minibatch of update `step`; None for full batch."""
    bs = cfg.train.batch_size
    if bs <= 0 or bs >= n_train:
        return None
    per_epoch = n_train // bs
    epoch, i = divmod(step, per_epoch)
    g = torch.Generator().manual_seed(cfg.train.seed * 1_000_003 + epoch)
    return torch.randperm(n_train, generator=g)[i * bs:(i + 1) * bs].to(device)


def _open_run(cfg: RunConfig, store: RunStore) -> tuple[RunConfig, bool]:
    """Check that an existing run directory holds this run; returns (config to use, resuming)."""
    if not store.exists():
        return cfg, False
    try:
        saved = config_from_record(store.read_config())
    except (ConfigError, FileNotFoundError) as e:
        raise ConfigError(f"{store.path} holds a run whose config.json cannot be read ({e})") from None
    diff = [k for k in saved.differences(cfg) if k not in RESUMABLE_KEYS]
    if diff:
        raise ConfigError(
            f"{store.path} holds a different run (differs in {', '.join(diff)}); "
            "choose another --out, or delete the directory to start over"
        )
    return cfg, True


def _evaluate(model, params, cfg: RunConfig, task: Task, idx: torch.Tensor, tokens, labels,
              row: dict, prefix: str) -> None:
    with torch.no_grad():
        logits = _forward(model, params, cfg, tokens[idx], task.answer_pos)
        _record(cfg, task, logits, labels[idx], row, prefix)


def _record(cfg: RunConfig, task: Task, logits, labels, row: dict, prefix: str, loss: float | None = None) -> None:
    """Loss and accuracy of `logits` into `row` as `{prefix}_loss`, `{prefix}_acc` (and per position)."""
    row[f"{prefix}_loss"] = engine.task_loss(logits, labels, cfg.train.loss).item() if loss is None else loss
    row[f"{prefix}_acc"] = engine.accuracy(logits, labels)
    if len(task.answer_pos) > 1:
        row[f"{prefix}_token_acc"] = engine.token_accuracy(logits, labels)
    if task.per_position:
        row[f"{prefix}_loss_pos"], row[f"{prefix}_acc_pos"] = engine.position_losses(logits, labels)


def _setup_transfer(cfg: RunConfig, params, trainable, device) -> tuple[dict[str, torch.nn.Parameter], dict]:
    """GrokTransfer: write A B into the embedding ("merged") or train A and B in its place ("factored",
    returned as `transfer.A`/`transfer.B` and added to `trainable`). On resume the values are then
    overwritten from the resume file."""
    if not cfg.accel.transfer_from:
        return {}, {}
    A, weak_step = accel.weak_embedding(cfg)
    emb = params["embed.weight"]
    if A.shape[0] != emb.shape[0]:
        raise ConfigError(f"accel.transfer_from: the weak embedding has {A.shape[0]} rows, this model {emb.shape[0]}")
    B = accel.random_b(A, emb.shape[1], cfg.model.seed)
    A, B = A.to(device=device, dtype=emb.dtype), B.to(device=device, dtype=emb.dtype)
    meta = {"transfer_from": str(cfg.accel.transfer_from), "transfer_step": str(weak_step)}
    if cfg.accel.transfer_mode == "merged":
        with torch.no_grad():
            emb.copy_(A @ B)
        return {}, meta
    factors = {"transfer.A": torch.nn.Parameter(A.clone()), "transfer.B": torch.nn.Parameter(B)}
    emb.requires_grad_(False)  # the embedding is A B, recomputed every step
    trainable.pop("embed.weight", None)
    trainable.update(factors)
    _sync_embedding(params, factors)
    return factors, meta


def _with_factors(params: dict, factors: dict) -> dict:
    """The parameters with the embedding as A B (differentiable) when it is factored."""
    return {**params, "embed.weight": factors["transfer.A"] @ factors["transfer.B"]} if factors else params


@torch.no_grad()
def _sync_embedding(params: dict, factors: dict) -> None:
    """Keep the model's embedding equal to A B (what checkpoints, evaluations and analyses read)."""
    if factors:
        params["embed.weight"].copy_(factors["transfer.A"] @ factors["transfer.B"])


def _forward(model, params, cfg: RunConfig, tokens, answer_pos):
    if cfg.train.engine == "hooked":
        return engine.hooked_logits(model, tokens, answer_pos)
    return engine.fused_logits(params, cfg.model, tokens, answer_pos)


def train(
    cfg: RunConfig, out: str | Path, *, stop_when_grokked: bool = False, progress: bool | None = None
) -> TrainResult:
    """Train (or resume) the run `cfg` into the directory `out`."""
    from tqdm.auto import tqdm

    cfg.validate()
    store = RunStore(out)
    store.acquire()
    try:
        return _train_locked(cfg, store, stop_when_grokked, progress, tqdm)
    finally:
        store.release()


def _train_locked(cfg, store: RunStore, stop_when_grokked, progress, tqdm) -> TrainResult:
    cfg, resuming = _open_run(cfg, store)
    device = resolve_device(cfg.train.device)
    task = make_task(cfg.task)
    if resuming:
        split = store.read_split()
        if not (torch.equal(split["train_idx"], task.train_idx) and torch.equal(split["test_idx"], task.test_idx)):
            raise ConfigError(f"{store.path}: the saved split differs from the one this config makes")
    else:
        store.write_config(_config_record(cfg))
        store.write_split({"train_idx": task.train_idx, "test_idx": task.test_idx})

    model = build_model(cfg.model, task.d_vocab, task.d_vocab_out, task.n_ctx, device)
    params = named_tensors(model)
    trainable = trainable_parameters(model)
    if cfg.accel.init_scale != 1.0 and not resuming:
        accel.scale_init_(trainable, cfg.accel.init_scale)
    factors, transfer_meta = _setup_transfer(cfg, params, trainable, device)
    names = {id(p): n for n, p in trainable.items()}
    opt = make_optimizer(cfg, trainable)
    filt = accel.make_filter(cfg.accel)
    filt_state = filt.init(trainable) if filt is not None else None
    if cfg.accel.weight_norm > 0 and not resuming:
        accel.rescale_to_norm_(trainable, cfg.accel.weight_norm)
        _sync_embedding(params, factors)

    start, wall_offset, grokked_step = 0, 0.0, None
    latest = store.latest_resume() if resuming else None
    if latest is not None:
        start, model_t, resume_t, meta = latest
        load_tensors_(model, model_t)
        _load_optimizer_tensors(opt, trainable, resume_t)
        if filt is not None:
            filt_state = accel.load_state(filt, trainable, resume_t)
        with torch.no_grad():
            for n, p in factors.items():
                p.copy_(resume_t[n].to(p.device))
        wall_offset = float(meta.get("wall_time", "0"))
        grokked_step = int(meta["grokked_step"]) if meta.get("grokked_step", "") != "" else None
        store.truncate_metrics(start - 1)  # step `start` is logged again below, identically
    elif resuming:
        store.truncate_metrics(-1)

    tokens, labels = task.tokens.to(device), task.labels.to(device)
    train_idx, test_idx = task.train_idx.to(device), task.test_idx.to(device)
    train_tokens, train_labels = tokens[train_idx], labels[train_idx]
    total = cfg.train.steps
    ckpts = set(checkpoint_schedule(total, cfg.train.ckpt_every, cfg.train.ckpt_log_points))
    t0 = time.perf_counter() - wall_offset
    last_row: dict = {}
    interrupted = False

    def save(step: int) -> None:
        meta = {"step": str(step), "wall_time": repr(time.perf_counter() - t0),
                "grokked_step": "" if grokked_step is None else str(grokked_step), **transfer_meta}
        resume = _optimizer_tensors(opt, names)
        resume.update({n: p.detach() for n, p in factors.items()})
        if filt_state is not None:
            resume.update(accel.state_tensors(filt_state))
        store.save_checkpoint(step, {n: t.detach() for n, t in params.items()}, resume, meta)

    bar = tqdm(total=total, initial=start, disable=None if progress is None else not progress,
               mininterval=1.0, unit="step", dynamic_ncols=True)
    step = start
    with _StopFlag() as flag:
        while True:
            log_now = step % cfg.train.log_every == 0 or step in ckpts or step == total
            batch = None
            loss = None
            if task.sampler is not None:  # infinite mode: the fresh batch of this update (also at the end, to log)
                xb, yb = (t.to(device) for t in task.sampler(step, cfg.train.batch_size))
            else:
                batch = _batches(cfg, len(train_idx), step, device) if step < total else None
                xb = train_tokens if batch is None else train_tokens[batch]
                yb = train_labels if batch is None else train_labels[batch]
            if step < total:
                logits = _forward(model, _with_factors(params, factors), cfg, xb, task.answer_pos)
                loss = engine.task_loss(logits, yb, cfg.train.loss)
            if log_now:
                row: dict = {"step": step}
                if loss is not None and (batch is None or task.sampler is not None):
                    # full batch, or a fresh infinite-mode batch: the step's own forward is the train eval
                    _record(cfg, task, logits.detach(), yb, row, "train", loss.item())
                elif task.sampler is not None:
                    with torch.no_grad():
                        _record(cfg, task, _forward(model, params, cfg, xb, task.answer_pos), yb, row, "train")
                else:
                    _evaluate(model, params, cfg, task, train_idx, tokens, labels, row, "train")
                _evaluate(model, params, cfg, task, test_idx, tokens, labels, row, "test")
                wsq = weight_sq(params)
                row.update({"weight_sq": wsq, "weight_norm": math.sqrt(wsq), "lr": lr_at(cfg, step),
                            "wall_time": time.perf_counter() - t0})
                last_row = row
                train_acc, test_acc, test_loss = row["train_acc"], row["test_acc"], row["test_loss"]
                store.append_metrics([last_row])
                if grokked_step is None and test_acc >= cfg.train.grok_threshold:
                    grokked_step = step
                bar.set_postfix(train_acc=f"{train_acc:.3f}", test_acc=f"{test_acc:.3f}",
                                test_loss=f"{test_loss:.3g}", refresh=False)
            stop_grokked = stop_when_grokked and grokked_step is not None
            already_saved = latest is not None and step == start  # re-saving would only change wall_time
            if (step in ckpts or stop_grokked or flag.stop or step == total) and not already_saved:
                save(step)
            if step == total or stop_grokked:
                break
            if flag.stop:
                interrupted = True
                break
            warm = warmup_factor(cfg, step)
            for group in opt.param_groups:
                group["lr"] = group["base_lr"] * warm
            loss.backward()
            if filt is not None:
                grads = {n: p.grad for n, p in trainable.items() if p.grad is not None}
                filtered, filt_state = filt.update(grads, filt_state)
                for n, g in filtered.items():
                    trainable[n].grad = g
            opt.step()
            opt.zero_grad(set_to_none=True)
            if cfg.accel.weight_norm > 0:
                accel.rescale_to_norm_(trainable, cfg.accel.weight_norm)
            _sync_embedding(params, factors)
            step += 1
            bar.update(1)
    bar.close()
    return TrainResult(out=store.path, step=step, grokked_step=grokked_step, interrupted=interrupted, metrics=last_row)


def _config_record(cfg: RunConfig) -> dict:
    import importlib.metadata as md
    import platform

    versions = {}
    for pkg in ("grokinterp", "torch", "transformer-lens", "safetensors", "numpy"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    record = cfg.to_dict()
    record["versions"] = versions
    record["python"] = platform.python_version()
    return record


def config_from_record(record: dict) -> RunConfig:
    """The `RunConfig` of a `config.json` (which also records package versions)."""
    return RunConfig.from_dict({k: v for k, v in record.items() if k in ("task", "model", "train", "accel", "preset")})


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
    except (ConfigError, RunLockedError) as e:
        print(f"error: {e}", file=sys.stderr)
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
