"""Run configuration: plain dataclasses for the task, the model and the training, with a JSON round trip,
dotted `--set section.key=value` overrides and validation that fails with one readable line.

A `RunConfig` holds everything needed to rebuild the task (and its train/test split), the model and the
optimiser of a run; it is written to `config.json` in the run directory. Validation errors are
`ConfigError` (a `ValueError`); the CLI prints them as one line and exits with code 2.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from typing import Any, Union, get_args, get_origin, get_type_hints

from grokinterp.errors import ConfigError
from grokinterp.limits import (
    MAX_BATCH,
    MAX_CHECKPOINTS,
    MAX_LOG_POINTS,
    MAX_STEPS,
    MAX_TASK_SIZE,
    check_at_most,
    split_override,
)
from grokinterp.models.config import ModelConfig
from grokinterp.models.registry import architecture_of, architectures
from grokinterp.tasks.registry import TaskSpec, get_family

# The fields of the flat task section that config.json files written before the family registry hold for
# every family; reading such a record drops the ones the run's family does not have.
LEGACY_TASK_KEYS = frozenset({"family", "op", "p", "n", "frac_train", "seed", "mode", "n_train", "n_test", "n_digits",
                              "seq_len", "vocab", "subseq_len", "n_repeats", "dataset", "data_path"})


def TaskConfig(family: str = "modular", **values: Any) -> TaskSpec:  # noqa: N802  (reads as the class it was)
    """The spec of task family `family` with `values` (the rest at their defaults), e.g.
    `TaskConfig(family="permutation", n=4)`; the families and their fields: `grokinterp.tasks`."""
    spec_type = get_family(family).spec
    known = {f.name for f in fields(spec_type)}
    for k in values:
        if k not in known:
            raise ConfigError(f"unknown config key 'task.{k}' for task family {family!r} (known: "
                              f"{', '.join(sorted(known | {'family'}))})")
    return spec_type(**values)




@dataclass
class TrainConfig:
    """The optimiser (AdamW, or Muon on the hidden matrices), its loss (cross-entropy, squared error or StableMax on
    the scored answer positions), the step budget and the dense checkpoint schedule."""

    steps: int = 25_000  # optimizer steps (the step budget)
    lr: float = 1e-3
    weight_decay: float = 1.0
    embed_lr: float | None = None  # learning rate of the embedding (Liu et al.'s eta_repr); None: lr
    embed_weight_decay: float | None = None  # its weight decay; None: weight_decay
    # tensors kept out of weight decay (checkpoint names, e.g. ["embed.weight", "pos_embed.weight"], or on the
    # command line embed.weight,pos_embed.weight: minGPT's groups, which decay only the linear layers' weights);
    # the rest decay at weight_decay / embed_weight_decay
    no_decay: tuple[str, ...] = ()
    loss: str = "ce"  # ce (cross-entropy) | mse (squared error on one-hot targets, Omnigrok's MNIST) | stablemax
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-8
    optimizer: str = "adamw"  # adamw | muon: torch.optim.Muon on the hidden matrices, AdamW on the rest
    muon_momentum: float = 0.95  # Muon's (Nesterov) momentum
    warmup_steps: int = 10  # linear warm-up: lr * min(step / warmup_steps, 1), so the first step has lr 0
    batch_size: int = 0  # 0 = full batch; -1 = min(512, ceil(n_train / 2)), Power et al.'s default
    engine: str = "fused"  # "fused" (only what the loss needs) or "hooked" (the TL forward)
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    log_every: int = 10  # metrics row every N steps (and at every checkpoint)
    ckpt_every: int = 100  # linear part of the checkpoint schedule
    ckpt_log_points: int = 20  # log-spaced checkpoints between step 1 and ckpt_every
    grok_threshold: float = 0.99  # test accuracy that counts as grokked (--stop-when-grokked)
    seed: int = 0  # minibatch order (unused with full batch), weight noise and dropout masks
    weight_noise: float = 0.0  # std of Gaussian noise added to every weight in each training forward (Power et al.)
    grad_clip: float = 0.0  # > 0: gradients rescaled to total L2 norm <= this before the optimiser (0: off)
    log: str = "none"  # none | tensorboard | wandb: mirror metrics.jsonl there too (grokinterp.train.explog)
    flush_denormal: bool = False  # CPU: compute subnormal floats as 0 while training (fast where they arise)
    precision: str = "float32"  # float32 | bfloat16: the training forward's matrix products under torch.autocast
    # RUN or RUN@STEP: start from that run's weights at that checkpoint (default its last), fresh optimiser
    init_from: str = ""

    def describe_optimizer(self) -> str:
        """One line naming the optimiser and its settings (the report's header)."""
        embed = ""
        if self.embed_lr is not None or self.embed_weight_decay is not None:
            e_lr = self.lr if self.embed_lr is None else self.embed_lr
            e_wd = self.weight_decay if self.embed_weight_decay is None else self.embed_weight_decay
            embed = f" (embedding: lr {e_lr:g}, weight decay {e_wd:g})"
        if self.no_decay:
            embed += f" (no weight decay on {', '.join(self.no_decay)})"
        adamw = f"betas {tuple(self.betas)}, eps {self.eps:g}"
        if self.optimizer == "muon":
            head = (f"Muon on the hidden matrices (lr {self.lr:g}, weight decay {self.weight_decay:g}, momentum "
                    f"{self.muon_momentum:g}, AdamW-matched update scale), AdamW on the other tensors{embed} ({adamw})")
        else:
            head = f"AdamW lr {self.lr:g}, weight decay {self.weight_decay:g}{embed}, {adamw}"
        clip = f", gradients clipped to norm {self.grad_clip:g}" if self.grad_clip > 0 else ""
        mixed = ", bfloat16 matrix products (autocast)" if self.precision == "bfloat16" else ""
        return (f"{head}, warm-up {self.warmup_steps}, batch {'full' if self.batch_size == 0 else self.batch_size}, "
                f"loss {self.loss}{clip}{mixed}")

    def validate(self) -> None:
        if self.steps < 0:
            raise ConfigError(f"train.steps must be >= 0, got {self.steps}")
        if self.lr <= 0:
            raise ConfigError(f"train.lr must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise ConfigError(f"train.weight_decay must be >= 0, got {self.weight_decay}")
        if self.embed_lr is not None and self.embed_lr <= 0:
            raise ConfigError(f"train.embed_lr must be > 0 (or null: train.lr), got {self.embed_lr}")
        if self.embed_weight_decay is not None and self.embed_weight_decay < 0:
            raise ConfigError(f"train.embed_weight_decay must be >= 0 (or null), got {self.embed_weight_decay}")
        if len(set(self.no_decay)) != len(self.no_decay):
            raise ConfigError(f"train.no_decay names a tensor twice: {list(self.no_decay)}")
        if self.loss not in ("ce", "mse", "stablemax"):
            raise ConfigError(f"train.loss must be 'ce', 'mse' or 'stablemax', got {self.loss!r}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ConfigError(f"train.betas must be two numbers in [0, 1), got {list(self.betas)}")
        if self.eps <= 0:
            raise ConfigError(f"train.eps must be > 0, got {self.eps}")
        if self.optimizer not in ("adamw", "muon"):
            raise ConfigError(f"train.optimizer must be 'adamw' or 'muon', got {self.optimizer!r}")
        if not 0.0 <= self.muon_momentum < 1.0:
            raise ConfigError(f"train.muon_momentum must be in [0, 1), got {self.muon_momentum}")
        if self.batch_size < -1:
            raise ConfigError(f"train.batch_size must be >= 0 (0: full batch) or -1 (Power et al.'s "
                              f"min(512, half the train set)), got {self.batch_size}")
        if self.grad_clip < 0:
            raise ConfigError(f"train.grad_clip must be >= 0 (0 = off), got {self.grad_clip}")
        if not 0.0 <= self.weight_noise < math.inf:
            raise ConfigError(f"train.weight_noise must be >= 0, got {self.weight_noise}")
        for name in ("warmup_steps", "ckpt_log_points"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("log_every", "ckpt_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        check_at_most("train.steps", self.steps, MAX_STEPS)
        check_at_most("train.ckpt_log_points", self.ckpt_log_points, MAX_LOG_POINTS)
        n_ckpt = self.steps // self.ckpt_every + self.ckpt_log_points + 2
        if n_ckpt > MAX_CHECKPOINTS:
            raise ConfigError(f"train.steps={self.steps:,} with train.ckpt_every={self.ckpt_every:,} makes {n_ckpt:,} "
                              f"checkpoints, more than {MAX_CHECKPOINTS:,}: raise train.ckpt_every")
        check_at_most("train.batch_size", self.batch_size, MAX_BATCH)
        if self.engine not in ("fused", "hooked"):
            raise ConfigError(f"train.engine must be 'fused' or 'hooked', got {self.engine!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"train.precision must be {' or '.join(PRECISIONS)}, got {self.precision!r}")
        dev = self.device
        if not (dev in ("auto", "cpu", "cuda", "mps") or (dev.startswith("cuda:") and dev[5:].isdigit())):
            raise ConfigError(f"train.device must be auto, cpu, cuda, cuda:N or mps, got {dev!r}")
        if not 0.0 < self.grok_threshold <= 1.0:
            raise ConfigError(f"train.grok_threshold must be in (0, 1], got {self.grok_threshold}")
        if self.log not in ("none", "tensorboard", "wandb"):
            raise ConfigError(f"train.log must be none, tensorboard or wandb, got {self.log!r}")

    def init_source(self) -> tuple[str, int | None]:
        """`init_from` as (run directory, checkpoint step or None for its last)."""
        return run_at(self.init_from)


def run_at(spec: str) -> tuple[str, int | None]:
    """A `RUN[@STEP]` value as (run directory, step or None); a directory whose name holds "@" stays whole."""
    path, at, step = spec.rpartition("@")
    if at and path and step.isdigit():
        return path, int(step)
    return spec, None


PRECISIONS = ("float32", "bfloat16")  # train.precision (see docs/training.md)
CLASSICAL_EMBEDDINGS = ("pca", "lda")  # accel.transfer_from values that are not a weak run


@dataclass
class AccelConfig:
    """Ways to speed grokking up or change it (see `grokinterp.train.accel`): Grokfast gradient filters (Lee et
    al. 2024) and Omnigrok's initialisation scale and fixed weight norm (Liu et al. 2023)."""

    grokfast: str = "none"  # none | ema | ma: low-pass gradient filter amplified before the optimizer step
    alpha: float = 0.98  # Grokfast-EMA momentum
    lamb: float = 2.0  # Grokfast amplification (EMA default 2.0; Grokfast-MA's code default is 5.0)
    window: int = 100  # Grokfast-MA window
    warmup: bool = True  # Grokfast-MA: add the filtered gradient only once the window is full (their default)
    init_scale: float = 1.0  # Omnigrok alpha: every initial weight multiplied by this
    weight_norm: float = 0.0  # > 0: after every step rescale the trainable weights to this total L2 norm
    # GrokTransfer: a weak run's directory whose embedding starts this model's (RUN@STEP: at that checkpoint,
    # whatever its accuracy), or a classical embedding of the training inputs in its place: "pca:K" (their top K
    # principal directions) or "lda[:K]" (discriminant axes)
    transfer_from: str = ""
    transfer_acc: float = 0.6  # ... taken at its first checkpoint at or after test accuracy >= this (no @STEP)
    transfer_mode: str = "factored"  # factored: embedding = A B, A (the weak embedding) and B trainable; merged
    transfer_random: bool = False  # ablation: A random (same shape and scale) instead of the weak embedding
    orthogonal_grad: bool = False  # Prieto et al.'s ⊥Grad: each gradient without its component along its weight

    def classical_transfer(self) -> tuple[str, int | None] | None:
        """("pca", K) or ("lda", K or None) when `transfer_from` names a classical embedding, else None."""
        kind, _, k = self.transfer_from.partition(":")
        if kind not in CLASSICAL_EMBEDDINGS:
            return None
        if kind == "pca" and not k:
            raise ConfigError("accel.transfer_from='pca' needs the number of components: pca:K, e.g. pca:4")
        if k and not (k.isdigit() and int(k) >= 1):
            raise ConfigError(f"accel.transfer_from={self.transfer_from!r}: K must be a whole number >= 1")
        return kind, int(k) if k else None

    def validate(self) -> None:
        self.classical_transfer()
        if self.grokfast not in ("none", "ema", "ma"):
            raise ConfigError(f"accel.grokfast must be 'none', 'ema' or 'ma', got {self.grokfast!r}")
        if not 0.0 <= self.alpha < 1.0:
            raise ConfigError(f"accel.alpha must be in [0, 1), got {self.alpha}")
        if self.lamb < 0:
            raise ConfigError(f"accel.lamb must be >= 0, got {self.lamb}")
        if self.window < 1:
            raise ConfigError(f"accel.window must be >= 1, got {self.window}")
        if self.init_scale <= 0:
            raise ConfigError(f"accel.init_scale must be > 0, got {self.init_scale}")
        if self.weight_norm < 0:
            raise ConfigError(f"accel.weight_norm must be >= 0 (0 = off), got {self.weight_norm}")
        if self.transfer_mode not in ("factored", "merged"):
            raise ConfigError(f"accel.transfer_mode must be 'factored' or 'merged', got {self.transfer_mode!r}")
        if not 0.0 <= self.transfer_acc <= 1.0:
            raise ConfigError(f"accel.transfer_acc must be in [0, 1], got {self.transfer_acc}")


# Keys that may differ between a run directory and the command that resumes it.
RESUMABLE_KEYS = frozenset({"train.steps", "train.device", "train.log_every", "train.grok_threshold", "train.log"})


@dataclass
class RunConfig:
    task: TaskSpec = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    accel: AccelConfig = field(default_factory=AccelConfig)
    preset: str = ""  # the preset this config started from, for the record

    def validate(self) -> RunConfig:
        """Check every field's type (and finiteness) as `from_dict` does, so a value set on the object
        directly is caught too, then each section's rules and the rules across sections."""
        for name in _SECTION_TYPES:
            section = getattr(self, name)
            hints = get_type_hints(type(section))
            for f in fields(section):
                setattr(section, f.name, _coerce(f"{name}.{f.name}", getattr(section, f.name), hints[f.name]))
        for f in fields(self.task):  # a size of any family (examples, vocabulary, width, length)
            value = getattr(self.task, f.name)
            if f.name != "seed" and isinstance(value, int) and not isinstance(value, bool):
                check_at_most(f"task.{f.name}", value, MAX_TASK_SIZE)
        self.task.validate()
        self.model.validate()
        self.train.validate()
        self.accel.validate()
        kind = get_family(self.task.family).kind
        if self.task.infinite and self.train.batch_size < 1:
            raise ConfigError("task.mode='infinite' draws a fresh batch every step: set train.batch_size >= 1")
        arch = architecture_of(self.model)
        if kind not in arch.task_kinds:
            fits = [a.name for a in architectures().values() if kind in a.task_kinds]
            raise ConfigError(f"task.family={self.task.family!r} (kind {kind!r}) and model.arch={self.model.arch!r} "
                              f"do not go together: model.arch={self.model.arch!r} reads tasks of kind "
                              f"{' or '.join(sorted(arch.task_kinds))}, and tasks of kind {kind!r} train model.arch "
                              f"{' or '.join(map(repr, fits))}")
        arch.check_run(self)
        if self.accel.transfer_from and arch.embedding is None:
            raise ConfigError(f"accel.transfer_from: GrokTransfer starts the model's input embedding from the weak "
                              f"run's; model.arch={self.model.arch!r} has no input embedding")
        if self.accel.classical_transfer() and kind != "vectors":
            raise ConfigError(f"accel.transfer_from={self.accel.transfer_from!r} is an embedding of the training "
                              f"inputs as float vectors (task kind 'vectors', e.g. images); "
                              f"task.family={self.task.family!r} reads tokens")
        if self.train.init_from and (self.accel.transfer_from or self.accel.init_scale != 1.0):
            raise ConfigError("train.init_from starts every weight from another run's: it does not combine with "
                              "accel.transfer_from or accel.init_scale, which set the initial weights too")
        if self.accel.transfer_from and self.accel.transfer_mode == "factored" and self.train.engine != "fused":
            raise ConfigError("accel.transfer_mode='factored' trains the embedding as A B: it needs train.engine=fused")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = {name: dataclasses.asdict(getattr(self, name)) for name in _SECTION_TYPES if name != "task"}
        d["task"] = self.task.to_dict()
        d["train"]["betas"] = list(self.train.betas)
        d["preset"] = self.preset
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: Any, *, legacy: bool = False) -> RunConfig:
        """The config of a dict as `to_dict` writes it. `legacy`: also accept the flat task section of
        config.json files written before the family registry (keys other families had are dropped)."""
        if not isinstance(d, dict):
            raise ConfigError(f"config must be a JSON object, got {type(d).__name__}")
        kwargs: dict[str, Any] = {}
        for key, value in d.items():
            if key == "preset":
                kwargs[key] = _coerce(key, value, str)
                continue
            if key not in _SECTION_TYPES:
                known = ", ".join([*_SECTION_TYPES, "preset"])
                raise ConfigError(f"unknown config section {key!r} (known: {known})")
            if not isinstance(value, dict):
                raise ConfigError(f"config section {key!r} must be an object, got {type(value).__name__}")
            value = dict(value)
            if key == "task":
                family = value.pop("family", "modular")
                if not isinstance(family, str):
                    raise ConfigError(f"task.family must be a string, got {family!r}")
                section_type = get_family(family).spec
            else:
                section_type = _SECTION_TYPES[key]
            hints = get_type_hints(section_type)
            known = {f.name for f in fields(section_type)}
            sub = {}
            for k, v in value.items():
                if k not in known:
                    if legacy and key == "task" and k in LEGACY_TASK_KEYS:
                        continue
                    what = f" for task family {section_type.family!r}" if key == "task" else ""
                    shown = known | {"family"} if key == "task" else known
                    raise ConfigError(f"unknown config key '{key}.{k}'{what} (known: {', '.join(sorted(shown))})")
                sub[k] = _coerce(f"{key}.{k}", v, hints[k])
            kwargs[key] = section_type(**sub)
        return cls(**kwargs).validate()

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls.from_dict(json.loads(text))

    def with_overrides(self, overrides: list[str] | dict[str, Any]) -> RunConfig:
        """Return a copy with `section.key=value` overrides applied (values parsed as JSON, else as strings).

        `task.family=NAME` switches the task to that family's defaults first (keeping `task.seed`); the
        other task overrides then apply to it."""
        d = self.to_dict()
        items = list(overrides.items() if isinstance(overrides, dict) else (split_override(o) for o in overrides))
        for dotted, _ in items:
            parts = dotted.split(".")
            if len(parts) != 2 or parts[0] not in _SECTION_TYPES:
                raise ConfigError(
                    f"bad override key {dotted!r}: expected section.key with section one of "
                    f"{', '.join(_SECTION_TYPES)}"
                )
        for dotted, value in items:
            if dotted == "task.family" and value != d["task"]["family"]:
                new = TaskConfig(value).to_dict() if isinstance(value, str) else {"family": value}
                d["task"] = {**new, "seed": d["task"]["seed"]}
        for dotted, value in items:
            section, key = dotted.split(".")
            if key not in d[section]:
                known = ", ".join(sorted(d[section]))
                what = f" for task family {d['task']['family']!r}" if section == "task" else ""
                raise ConfigError(f"unknown config key {dotted!r}{what} (known {section} keys: {known})")
            d[section][key] = value
        return RunConfig.from_dict(d)

    def differences(self, other: RunConfig) -> list[str]:
        """Dotted keys whose values differ between two configs."""
        a, b = self.to_dict(), other.to_dict()
        out = []
        for section in _SECTION_TYPES:
            for k in sorted(set(a[section]) | set(b[section])):
                if a[section].get(k) != b[section].get(k):
                    out.append(f"{section}.{k}")
        return out


_SECTION_TYPES = {"task": TaskSpec, "model": ModelConfig, "train": TrainConfig, "accel": AccelConfig}


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """Check `value` against the annotation `tp`, converting the lossless cases (int -> float, list -> tuple)."""
    origin = get_origin(tp)
    if origin is Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(key, value, inner)
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:  # tuple[T, ...]: a list of any length
            if isinstance(value, str) and args[0] is str:  # the command line's `--set key=a,b`
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{key} must be a list, got {value!r}")
            return tuple(_coerce(key, v, args[0]) for v in value)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{key} must be a list of {len(args)} values, got {value!r}")
        return tuple(_coerce(key, v, a) for v, a in zip(value, args))
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key} must be a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type {tp!r}")  # pragma: no cover
