"""The forwards every architecture shares, dispatched through the registry: `build_model`, the fused
`fused_logits` and `fused_scored` (pure functions of the config, the checkpoint tensors and the tokens), and
`hooked_logits` (the hooked model's own forward, every position computed)."""

from __future__ import annotations

import torch
from jaxtyping import Float, Int, Shaped
from torch import Tensor

from grokinterp.errors import ConfigError
from grokinterp.models.config import ModelConfig
from grokinterp.models.params import unembed
from grokinterp.models.registry import get_architecture
from grokinterp.scoring import Scored, scored_index, select


def build_model(
    cfg: ModelConfig,
    d_vocab: int,
    d_vocab_out: int,
    n_ctx: int,
    device: str | torch.device = "cpu",
) -> torch.nn.Module:
    """The hooked model of architecture `cfg.arch`, initialised by `cfg`, for a task of `d_vocab` input and
    `d_vocab_out` output tokens; with `cfg.d_vocab` set, both are that larger shared vocabulary."""
    d_vocab, d_vocab_out = vocabulary(cfg, d_vocab, d_vocab_out)
    return get_architecture(cfg.arch).build(cfg, d_vocab, d_vocab_out, n_ctx, device)


def vocabulary(cfg: ModelConfig, d_vocab: int, d_vocab_out: int) -> tuple[int, int]:
    """The model's input and output vocabulary sizes: the task's, or with `cfg.d_vocab` set that larger shared
    vocabulary for both."""
    if not cfg.d_vocab:
        return d_vocab, d_vocab_out
    if cfg.d_vocab < max(d_vocab, d_vocab_out):
        raise ConfigError(f"model.d_vocab={cfg.d_vocab} is smaller than the task's vocabulary "
                          f"({max(d_vocab, d_vocab_out)} tokens)")
    return cfg.d_vocab, cfg.d_vocab


def build_tensors(cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int,
                  device: str | torch.device = "cpu") -> torch.nn.Module:
    """A module holding the tensors `build_model` would give (the same `state_dict`: names, order, values, which
    train), built without the hooked model where the architecture can (`Architecture.build_tensors`), else the
    hooked model itself. What the fused engine trains: no forward of it is ever called."""
    arch = get_architecture(cfg.arch)
    if arch.build_tensors is not None:
        module = arch.build_tensors(cfg, *vocabulary(cfg, d_vocab, d_vocab_out), n_ctx, device)
        if module is not None:
            return module
    return build_model(cfg, d_vocab, d_vocab_out, n_ctx, device)


def fused_logits(
    params: dict[str, Tensor],
    cfg: ModelConfig,
    tokens: Shaped[Tensor, "batch pos"],
    answer_pos: tuple[int, ...],
) -> Float[Tensor, "batch n_answer d_vocab_out"]:
    """Logits at `answer_pos` of the model with these parameters; `tokens` are token ids, or float pixels for
    the image MLP. The same function as the hooked model read at `answer_pos`, computing only what it needs."""
    return get_architecture(cfg.arch).logits(params, cfg, tokens, answer_pos)


def fused_scored(params: dict[str, Tensor], cfg: ModelConfig, tokens: Tensor, answer_pos: tuple[int, ...],
                 labels: Int[Tensor, "batch n_answer"], dropout_generator: torch.Generator | None = None) -> Scored:
    """`Scored` from the fused forward, unembedding only the scored rows of the final residual stream where the
    model has an unembedding. `dropout_generator`: a training forward of a model with dropout (Power et al.'s),
    with dropout masks drawn from it."""
    arch = get_architecture(cfg.arch)
    if arch.resid is None:
        return Scored.from_logits(arch.logits(params, cfg, tokens, answer_pos), labels)
    index = scored_index(labels) if arch.resid_at is not None and dropout_generator is None else None
    if index is not None:  # every example scores k of its answer positions: compute the last layer at those
        resid = arch.resid_at(params, cfg, tokens, answer_pos, index)
        rows = (torch.arange(len(index), device=index.device)[:, None] * len(answer_pos) + index).reshape(-1)
        return Scored(unembed(params, resid.reshape(len(rows), -1)), labels.reshape(-1).index_select(0, rows),
                      rows, *labels.shape)
    resid = arch.resid(params, cfg, tokens, answer_pos, dropout_generator=dropout_generator)
    resid, labels_s, rows = select(resid, labels)
    return Scored(unembed(params, resid), labels_s, rows, *labels.shape)


def hooked_logits(
    model: torch.nn.Module, tokens: Shaped[Tensor, "batch pos"], answer_pos: tuple[int, ...]
) -> Float[Tensor, "batch n_answer d_vocab_out"]:
    """Logits at `answer_pos` from the model's full forward (every position computed)."""
    return model(tokens)[:, list(answer_pos)]
