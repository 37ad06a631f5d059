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


class ConfigError(ValueError):
    """A user mistake in a configuration: unknown key, wrong type or value out of range."""


MODULAR_OPS: dict[str, str] = {
    # name -> formula (mod p), the operations of Power et al. 2022 (Table/Fig. 4) plus x*y
    "add": "x+y",
    "sub": "x-y",
    "mul": "x*y",
    "div": "x/y",
    "odd_div": "x/y if y is odd else x-y",
    "x2_y2": "x^2+y^2",
    "x2_xy_y2": "x^2+xy+y^2",
    "x2_xy_y2_x": "x^2+xy+y^2+x",
    "x3_xy": "x^3+xy",
    "x3_xy2_y": "x^3+xy^2+y",
}
DIVISION_OPS = frozenset({"div", "odd_div"})
PERMUTATION_OPS: dict[str, str] = {
    # name -> formula in S_n, the group tasks of Power et al. 2022; products apply the left factor first
    "compose": "x*y",
    "conj": "x*y*x^-1",
    "aba": "x*y*x",
}
DIGITS_OPS: dict[str, str] = {"add": "a1..ak + b1..bk = c1..c(k+1)"}
SEQUENCE_OPS: dict[str, str] = {
    "repeat": "random tokens with one subsequence repeated; predict the later copies",
    "max": "random tokens; predict the largest",
}
ADDITION_OPS: dict[str, str] = {"add": "x+y (no modulus; unordered pairs x <= y)"}
IMAGE_DATASETS = ("digits", "mnist")
TASK_FAMILIES = ("modular", "permutation", "digits", "sequences", "addition", "images")
PAIR_FAMILIES = frozenset({"modular", "permutation", "addition"})  # every (a, b) pair, split by frac_train
SAMPLED_FAMILIES = frozenset({"digits", "sequences"})  # drawn at random: finite or infinite mode


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % d for d in range(2, math.isqrt(n) + 1))


@dataclass
class TaskConfig:
    """Which data set, and how it is split into train and test.

    family "modular": `op` in MODULAR_OPS on Z_p, inputs `[a, b, =]` with '=' the token p.
    family "permutation": `op` in PERMUTATION_OPS on S_n, inputs `[x, y, =]` with the n! permutations as
    tokens 0..n!-1 in `itertools.permutations` order and '=' the token n!.
    family "digits": k-digit addition (`op` "add"), `n_digits` = k.
    family "sequences": `op` "repeat" (a `subseq_len` subsequence repeated `n_repeats` times in `seq_len`
    random tokens from `vocab`) or "max" (the largest of `seq_len` random tokens).
    digits and sequences are sampled: `mode` "finite" draws `n_train` training examples once, "infinite"
    draws a fresh batch (`train.batch_size`) every step; both hold out `n_test` test examples.
    family "addition": Liu et al. 2022's toy task, x+y for 0 <= x <= y < p without a modulus (2p-1 answers),
    inputs `[x, y, =]`, split by `frac_train`.
    family "images": image classification (Omnigrok), `dataset` "digits" (the 8x8 digits scikit-learn
    ships, 1,797 images) or "mnist" (the IDX files in `data_path`); `n_train` training images (a seeded
    random subset), `n_test` test images (0: all the others; for MNIST, of its test files).
    """

    family: str = "modular"  # modular | permutation | digits | sequences
    op: str = "add"  # MODULAR_OPS, PERMUTATION_OPS, DIGITS_OPS or SEQUENCE_OPS of the family
    p: int = 113  # modulus of the modular family
    n: int = 5  # degree of the symmetric group S_n of the permutation family
    frac_train: float = 0.3  # modular/permutation: fraction of all valid (a, b) pairs used for training
    seed: int = 0  # seed of the train/test split (and of the sampled data)
    mode: str = "finite"  # digits/sequences: finite | infinite
    n_train: int = 1000  # digits/sequences, finite mode: number of training examples
    n_test: int = 1000  # digits/sequences: number of held-out test examples
    n_digits: int = 5  # digits: k
    seq_len: int = 85  # sequences: tokens per sequence
    vocab: int = 128  # sequences: token values 0..vocab-1
    subseq_len: int = 16  # sequences/repeat: length of the repeated subsequence
    n_repeats: int = 3  # sequences/repeat: copies of it
    dataset: str = "digits"  # images: digits | mnist
    data_path: str = ""  # images/mnist: directory holding the four MNIST IDX files (optionally .gz)

    def validate(self) -> None:
        if self.family not in TASK_FAMILIES:
            known = ", ".join(repr(f) for f in TASK_FAMILIES)
            raise ConfigError(f"task.family: unknown task family {self.family!r} (known: {known})")
        if self.family == "images":
            self._validate_images()
            return
        ops = {"modular": MODULAR_OPS, "permutation": PERMUTATION_OPS, "digits": DIGITS_OPS,
               "sequences": SEQUENCE_OPS, "addition": ADDITION_OPS}[self.family]
        if self.op not in ops:
            raise ConfigError(f"task.op: unknown {self.family} operation {self.op!r} (known: {', '.join(ops)})")
        if self.family == "modular":
            if self.p < 2:
                raise ConfigError(f"task.p must be >= 2, got {self.p}")
            if self.op in DIVISION_OPS and not is_prime(self.p):
                raise ConfigError(f"task.op={self.op!r} needs a prime modulus (inverses mod p), got p={self.p}")
        elif self.family == "addition":
            if self.p < 2:
                raise ConfigError(f"task.p must be >= 2, got {self.p}")
        elif self.family == "permutation":
            if not 2 <= self.n <= 6:
                raise ConfigError(f"task.n must be between 2 and 6 (S_n has n! tokens), got {self.n}")
        if self.family in SAMPLED_FAMILIES:
            self._validate_sampled()
        elif not 0.0 < self.frac_train < 1.0:
            raise ConfigError(f"task.frac_train must be in (0, 1), got {self.frac_train}")

    def _validate_images(self) -> None:
        if self.dataset not in IMAGE_DATASETS:
            raise ConfigError(f"task.dataset must be one of {', '.join(IMAGE_DATASETS)}, got {self.dataset!r}")
        if self.dataset == "mnist" and not self.data_path:
            raise ConfigError("task.dataset='mnist' reads the MNIST IDX files: set task.data_path to their directory "
                              "(nothing is downloaded)")
        if self.n_train < 1 or self.n_test < 0:
            raise ConfigError(f"task.n_train must be >= 1 and task.n_test >= 0, got {self.n_train} and {self.n_test}")

    def _validate_sampled(self) -> None:
        if self.mode not in ("finite", "infinite"):
            raise ConfigError(f"task.mode must be 'finite' or 'infinite', got {self.mode!r}")
        if self.n_train < 1 or self.n_test < 1:
            raise ConfigError(f"task.n_train and task.n_test must be >= 1, got {self.n_train} and {self.n_test}")
        if self.family == "digits":
            if not 1 <= self.n_digits <= 18:
                raise ConfigError(f"task.n_digits must be between 1 and 18, got {self.n_digits}")
            return
        if self.vocab < 2:
            raise ConfigError(f"task.vocab must be >= 2, got {self.vocab}")
        if self.op == "repeat":
            if self.subseq_len < 2 or self.n_repeats < 2:
                raise ConfigError(f"task.subseq_len and task.n_repeats must be >= 2, got {self.subseq_len} and "
                                  f"{self.n_repeats}")
            if self.subseq_len * self.n_repeats > self.seq_len:
                raise ConfigError(f"task.seq_len={self.seq_len} cannot hold {self.n_repeats} copies of "
                                  f"{self.subseq_len} tokens")
        elif self.seq_len < 1:
            raise ConfigError(f"task.seq_len must be >= 1, got {self.seq_len}")

    @property
    def n_answers(self) -> int:
        """How many distinct answers the task has: p, n! for S_n, 10 digits, or the vocabulary."""
        if self.family == "modular":
            return self.p
        if self.family == "permutation":
            return math.factorial(self.n)
        if self.family in ("digits", "images"):
            return 10
        if self.family == "addition":
            return 2 * self.p - 1
        return self.vocab

    def describe(self) -> str:
        """A short human description, e.g. 'x+y mod 113' or 'x*y in S5'."""
        if self.family == "modular":
            return f"{MODULAR_OPS[self.op]} mod {self.p}"
        if self.family == "permutation":
            return f"{PERMUTATION_OPS[self.op]} in S{self.n}"
        if self.family == "addition":
            return f"x+y for 0 <= x <= y < {self.p}"
        if self.family == "images":
            test = str(self.n_test) if self.n_test else ("all other" if self.dataset == "digits" else "all")
            return f"{self.dataset} images, {self.n_train} train / {test} test"
        data = f"{self.n_train} train" if self.mode == "finite" else "fresh batches"
        if self.family == "digits":
            return f"{self.n_digits}-digit addition ({self.mode}: {data})"
        if self.op == "repeat":
            return (f"repeated subsequence: {self.n_repeats} x {self.subseq_len} tokens in {self.seq_len}, vocab "
                    f"{self.vocab} ({self.mode}: {data})")
        return f"max of {self.seq_len} tokens from {self.vocab} ({self.mode}: {data})"


ARCHS = ("transformer", "mlp", "toy", "image-mlp")


@dataclass
class ModelConfig:
    """A TransformerLens-native transformer (see `grokinterp.models`)."""

    n_layers: int = 1
    d_model: int = 128
    n_heads: int = 4
    d_head: int = 32
    d_mlp: int = 512
    act_fn: str = "relu"  # relu | gelu | tanh (tanh: toy and image MLPs only)
    normalization_type: str | None = None  # None | "LN"
    attn_only: bool = False
    # transformer | mlp (a pair MLP: concat of the two operand embeddings -> ReLU -> logits) | toy (Liu et al.:
    # the two embeddings summed -> n_layers hidden layers of d_mlp -> logits) | image-mlp (pixels -> n_layers
    # hidden layers of d_mlp -> logits; Omnigrok's MNIST MLP is n_layers 2, d_mlp 200)
    arch: str = "transformer"
    init: str = "paper"  # "paper": N(0, 1/d_model), W_U N(0, 1/d_vocab_out) (Nanda et al.); "tl": TL gpt2 init
    biases: str = "mlp"  # which biases train: "mlp" (b_in, b_out; the paper), "all", or "none" (all frozen at 0)
    seed: int = 0  # seed of the parameter init

    def validate(self) -> None:
        for name in ("n_layers", "d_model", "n_heads", "d_head", "d_mlp"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name} must be >= 1, got {getattr(self, name)}")
        if self.act_fn not in ("relu", "gelu", "tanh"):
            raise ConfigError(f"model.act_fn must be 'relu', 'gelu' or 'tanh', got {self.act_fn!r}")
        if self.act_fn == "tanh" and self.arch in ("transformer", "mlp"):
            raise ConfigError("model.act_fn='tanh' is for model.arch 'toy' and 'image-mlp'")
        if self.normalization_type not in (None, "LN"):
            raise ConfigError(f"model.normalization_type must be null or 'LN', got {self.normalization_type!r}")
        if self.arch not in ARCHS:
            raise ConfigError(f"model.arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if self.init not in ("paper", "tl"):
            raise ConfigError(f"model.init must be 'paper' or 'tl', got {self.init!r}")
        if self.biases not in ("mlp", "all", "none"):
            raise ConfigError(f"model.biases must be 'mlp', 'all' or 'none', got {self.biases!r}")


@dataclass
class TrainConfig:
    """AdamW on the answer-position cross-entropy, with a dense checkpoint schedule."""

    steps: int = 25_000  # optimizer steps (the step budget)
    lr: float = 1e-3
    weight_decay: float = 1.0
    embed_lr: float | None = None  # learning rate of the embedding (Liu et al.'s eta_repr); None: lr
    embed_weight_decay: float | None = None  # its weight decay; None: weight_decay
    loss: str = "ce"  # ce (cross-entropy) | mse (mean squared error against one-hot targets, as Omnigrok's MNIST)
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-8
    warmup_steps: int = 10  # linear warm-up: lr * min(step / warmup_steps, 1), so the first step has lr 0
    batch_size: int = 0  # 0 = full batch
    engine: str = "fused"  # "fused" (only what the loss needs) or "hooked" (the TL forward)
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    log_every: int = 10  # metrics row every N steps (and at every checkpoint)
    ckpt_every: int = 100  # linear part of the checkpoint schedule
    ckpt_log_points: int = 20  # log-spaced checkpoints between step 1 and ckpt_every
    grok_threshold: float = 0.99  # test accuracy that counts as grokked (--stop-when-grokked)
    seed: int = 0  # minibatch order (unused with full batch)

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
        if self.loss not in ("ce", "mse"):
            raise ConfigError(f"train.loss must be 'ce' or 'mse', got {self.loss!r}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ConfigError(f"train.betas must be two numbers in [0, 1), got {list(self.betas)}")
        if self.eps <= 0:
            raise ConfigError(f"train.eps must be > 0, got {self.eps}")
        for name in ("warmup_steps", "batch_size", "ckpt_log_points"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("log_every", "ckpt_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.engine not in ("fused", "hooked"):
            raise ConfigError(f"train.engine must be 'fused' or 'hooked', got {self.engine!r}")
        dev = self.device
        if not (dev in ("auto", "cpu", "cuda", "mps") or (dev.startswith("cuda:") and dev[5:].isdigit())):
            raise ConfigError(f"train.device must be auto, cpu, cuda, cuda:N or mps, got {dev!r}")
        if not 0.0 < self.grok_threshold <= 1.0:
            raise ConfigError(f"train.grok_threshold must be in (0, 1], got {self.grok_threshold}")


@dataclass
class AccelConfig:
    """Ways to speed grokking up or change it (see `grokinterp.accel`): Grokfast gradient filters (Lee et
    al. 2024) and Omnigrok's initialisation scale and fixed weight norm (Liu et al. 2023)."""

    grokfast: str = "none"  # none | ema | ma: low-pass gradient filter amplified before the optimizer step
    alpha: float = 0.98  # Grokfast-EMA momentum
    lamb: float = 2.0  # Grokfast amplification (EMA default 2.0; Grokfast-MA's code default is 5.0)
    window: int = 100  # Grokfast-MA window
    init_scale: float = 1.0  # Omnigrok alpha: every initial weight multiplied by this
    weight_norm: float = 0.0  # > 0: after every step rescale the trainable weights to this total L2 norm
    transfer_from: str = ""  # GrokTransfer: a weak run's directory whose embedding starts this model's
    transfer_acc: float = 0.6  # ... taken at its first checkpoint at or after test accuracy >= this
    transfer_mode: str = "factored"  # factored: embedding = A B, A (the weak embedding) and B trainable; merged
    transfer_random: bool = False  # ablation: A random (same shape and scale) instead of the weak embedding

    def validate(self) -> None:
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
RESUMABLE_KEYS = frozenset({"train.steps", "train.device", "train.log_every", "train.grok_threshold"})


@dataclass
class RunConfig:
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    accel: AccelConfig = field(default_factory=AccelConfig)
    preset: str = ""  # the preset this config started from, for the record

    def validate(self) -> RunConfig:
        self.task.validate()
        self.model.validate()
        self.train.validate()
        self.accel.validate()
        if self.task.family in SAMPLED_FAMILIES and self.task.mode == "infinite" and self.train.batch_size < 1:
            raise ConfigError("task.mode='infinite' draws a fresh batch every step: set train.batch_size >= 1")
        if self.model.arch in ("mlp", "toy") and self.task.family not in PAIR_FAMILIES:
            raise ConfigError(f"model.arch={self.model.arch!r} reads two operands: it needs a modular, permutation "
                              "or addition task")
        if (self.task.family == "images") != (self.model.arch == "image-mlp"):
            raise ConfigError("task.family='images' goes with model.arch='image-mlp', and only with it")
        if self.accel.transfer_from and self.accel.transfer_mode == "factored" and self.train.engine != "fused":
            raise ConfigError("accel.transfer_mode='factored' trains the embedding as A B: it needs train.engine=fused")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["train"]["betas"] = list(self.train.betas)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: Any) -> RunConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"config must be a JSON object, got {type(d).__name__}")
        kwargs: dict[str, Any] = {}
        sections = {f.name: f for f in fields(cls)}
        for key, value in d.items():
            if key not in sections:
                raise ConfigError(f"unknown config section {key!r} (known: {', '.join(sections)})")
            section_type = _SECTION_TYPES.get(key)
            if section_type is None:
                kwargs[key] = _coerce(key, value, str)
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"config section {key!r} must be an object, got {type(value).__name__}")
            hints = get_type_hints(section_type)
            known = {f.name for f in fields(section_type)}
            sub = {}
            for k, v in value.items():
                if k not in known:
                    raise ConfigError(f"unknown config key '{key}.{k}' (known: {', '.join(sorted(known))})")
                sub[k] = _coerce(f"{key}.{k}", v, hints[k])
            kwargs[key] = section_type(**sub)
        return cls(**kwargs).validate()

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls.from_dict(json.loads(text))

    def with_overrides(self, overrides: list[str] | dict[str, Any]) -> RunConfig:
        """Return a copy with `section.key=value` overrides applied (values parsed as JSON, else as strings)."""
        d = self.to_dict()
        items = overrides.items() if isinstance(overrides, dict) else (_split_override(o) for o in overrides)
        for dotted, value in items:
            parts = dotted.split(".")
            if len(parts) != 2 or parts[0] not in _SECTION_TYPES:
                raise ConfigError(
                    f"bad override key {dotted!r}: expected section.key with section one of "
                    f"{', '.join(_SECTION_TYPES)}"
                )
            section, key = parts
            if key not in d[section]:
                known = ", ".join(sorted(d[section]))
                raise ConfigError(f"unknown config key {dotted!r} (known {section} keys: {known})")
            d[section][key] = value
        return RunConfig.from_dict(d)

    def differences(self, other: RunConfig) -> list[str]:
        """Dotted keys whose values differ between two configs."""
        a, b = self.to_dict(), other.to_dict()
        out = []
        for section in _SECTION_TYPES:
            for k in a[section]:
                if a[section][k] != b[section][k]:
                    out.append(f"{section}.{k}")
        return out


_SECTION_TYPES = {"task": TaskConfig, "model": ModelConfig, "train": TrainConfig, "accel": AccelConfig}


def _split_override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise ConfigError(f"bad override {text!r}: expected key=value, e.g. train.weight_decay=0.3")
    key, raw = text.split("=", 1)
    raw = raw.strip()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # a bare string such as `fused`
    if raw == "None":  # Python spelling of JSON null; a bare `none` stays a string (model.biases=none)
        value = None
    return key.strip(), value


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
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type {tp!r}")  # pragma: no cover
