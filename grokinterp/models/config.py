"""The `model` section of a run config: one flat dataclass whose fields the architectures share (each reads
the ones it needs, see its module), checked generically here and by the architecture's own `check`."""

from __future__ import annotations

from dataclasses import dataclass

from grokinterp.errors import ConfigError
from grokinterp.models.registry import get_architecture

# upper bounds of the sizes (far above any model of the grokking literature; a typo's 1e9 is refused in one line
# instead of an allocation that takes the machine down)
MAX_SIZE = {"n_layers": 1_024, "d_model": 65_536, "n_heads": 1_024, "d_head": 65_536, "d_mlp": 1_048_576,
            "d_vocab": 1_048_576}


@dataclass
class ModelConfig:
    """The model of a run: `arch` picks the architecture (`grokinterp.models`), the rest sizes it."""

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
    # hidden layers of d_mlp -> logits; Omnigrok's MNIST MLP is n_layers 2, d_mlp 200) | onehot-mlp (the one-hot
    # codes of the two operands concatenated -> n_layers hidden layers of d_mlp -> logits; Prieto et al. 2025's
    # MLP is n_layers 2, d_mlp 200, biases none) | power (Power et al.
    # 2022's post-LayerNorm transformer, `grokinterp.models.power`: sinusoidal positions, no biases, untied output)
    arch: str = "transformer"
    init: str = "paper"  # "paper": N(0, 1/d_model), W_U N(0, 1/d_vocab_out) (Nanda et al.); "tl": TL gpt2 init
    biases: str = "mlp"  # which biases train: "mlp" (b_in, b_out; the paper), "all", or "none" (all frozen at 0)
    seed: int = 0  # seed of the parameter init
    dropout: float = 0.0  # arch power: dropout on every block's FFN output while training (Power et al.'s code)
    # 0: the task's vocabulary. N: the embedding and the output layer hold N tokens, the task's first, then tokens no
    # example uses; the softmax covers all N (Power et al. share one 239-token vocabulary across their tasks)
    d_vocab: int = 0

    def validate(self) -> None:
        for name in ("n_layers", "d_model", "n_heads", "d_head", "d_mlp"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name} must be >= 1, got {getattr(self, name)}")
            if getattr(self, name) > MAX_SIZE[name]:
                raise ConfigError(f"model.{name} must be at most {MAX_SIZE[name]:,}, got {getattr(self, name):,}")
        if self.act_fn not in ("relu", "gelu", "tanh"):
            raise ConfigError(f"model.act_fn must be 'relu', 'gelu' or 'tanh', got {self.act_fn!r}")
        if self.normalization_type not in (None, "LN"):
            raise ConfigError(f"model.normalization_type must be null or 'LN', got {self.normalization_type!r}")
        arch = get_architecture(self.arch)
        if self.act_fn not in arch.act_fns:
            raise ConfigError(f"model.act_fn={self.act_fn!r} is not for model.arch={self.arch!r} (it takes "
                              f"{', '.join(map(repr, arch.act_fns))})")
        if self.init not in ("paper", "tl"):
            raise ConfigError(f"model.init must be 'paper' or 'tl', got {self.init!r}")
        if self.biases not in ("mlp", "all", "none"):
            raise ConfigError(f"model.biases must be 'mlp', 'all' or 'none', got {self.biases!r}")
        if not 0 <= self.d_vocab <= MAX_SIZE["d_vocab"]:
            raise ConfigError(f"model.d_vocab must be 0 (the task's) or at most {MAX_SIZE['d_vocab']:,}, "
                              f"got {self.d_vocab:,}")
        if self.d_vocab and not arch.unembedding:
            raise ConfigError(f"model.d_vocab is for the transformers (model.arch 'transformer' or 'power'), "
                              f"not model.arch={self.arch!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout}")
        arch.check(self)


def refuse_dropout(cfg: ModelConfig) -> None:
    """The check of every architecture without dropout."""
    if cfg.dropout > 0:
        raise ConfigError("model.dropout is for model.arch='power' (Power et al.'s FFN dropout)")
