"""The registry of model architectures (`model.arch`), the same pattern as `grokinterp.tasks.registry`.

An architecture is one module under `grokinterp.models` that owns everything about its model: the checks of
the `model` config fields it reads, how to build the hooked model, its fused forward (logits, and the final
residual stream where it has an unembedding), its one-line descriptions, which of its matrices Muon trains
(the model decides, as nanoGPT's `configure_optimizers` does), which tensor is its token embedding (what
GrokTransfer transfers and `train.embed_lr` addresses) and which task kinds it reads. It registers itself
once with `register(Architecture(...))`; nothing outside its module tests its name. Adding an architecture is
writing its module and importing it in `grokinterp/models/__init__.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from grokinterp.errors import ConfigError

# tensors that stay on AdamW under Muon (Jordan et al.'s rule: Muon is for hidden layers, not the embeddings,
# the unembedding or GrokTransfer's factored embedding)
NOT_MUON = frozenset({"embed.weight", "pos_embed.weight", "unembed.weight", "transfer.A", "transfer.B"})


def hidden_matrices(params: dict[str, Tensor]) -> list[str]:
    """The default Muon set: every 2-D tensor but the (un)embeddings."""
    return [n for n, p in params.items() if p.ndim == 2 and n not in NOT_MUON]


def no_check(_: Any) -> None:
    """An architecture without checks of its own."""


@dataclass(frozen=True)
class Architecture:
    """Everything the toolkit needs to know about one `model.arch`.

    - `build(cfg, d_vocab, d_vocab_out, n_ctx, device)`: the hooked model, initialised by `cfg`.
    - `build_tensors(cfg, d_vocab, d_vocab_out, n_ctx, device)`: the same tensors (names, order, values,
      which train) in a bare module, without the hooked model, or None where only `build` can make them: what
      the fused engine trains when building the hooked model costs more (TransformerLens's import and bridge).
    - `logits(params, cfg, tokens, answer_pos)`: the fused forward, (batch, n_answer, d_vocab_out) logits at
      the answer positions from the checkpoint tensors; a pure function, so `torch.func` can vmap it.
    - `resid(params, cfg, tokens, answer_pos, dropout_generator=None)`: the final residual stream before an
      unembedding `unembed.weight` (None: the model has none, and scoring reads `logits`).
    - `resid_at(params, cfg, tokens, answer_pos, index)`: `resid` at each example's own answer positions
      `index` (batch, k), indices into `answer_pos` (None: scoring always reads `resid`). Scoring calls it when
      every example scores k of its answer positions (`grokinterp.scoring.scored_index`).
    - `describe(cfg)`: one line with every setting (report header, `grokinterp info`); `short(cfg)`: the
      sizes that matter (`grokinterp presets`).
    - `muon_names(params)`: the tensors `train.optimizer=muon` gives to Muon.
    - `check(cfg)`: raise `ConfigError` for model settings this architecture cannot take;
      `check_run(run_cfg)`: the same for settings of other sections.
    - `embedding`: the name of the input embedding GrokTransfer transfers (None: the model has none);
      `embedding_transposed`: that tensor is a Linear layer's weight (out x in), so the embedding, one row
      per input (token or feature), is its transpose (`input_embedding` and `stored_embedding` turn it);
      `embedding_title` and `embedding_note`: what the report calls it and says of it.
    - `task_kinds`: the task kinds (`grokinterp.tasks.registry.KINDS`) it reads.
    - `tl_native`: a TransformerLens-native transformer (the bridge's tensor names and hook names): Nanda's
      progress measures, the neuron-logit map W_L and importing HookedTransformer checkpoints apply.
    - `unembedding`: it has one unembedding row per answer (`unembed.weight`), e.g. for coset analyses.
    - `no_measures`: why Nanda's progress measures do not apply (None where they do).
    - `batchable`: model batching (`grokinterp.train.batched`) can stack several of its runs.
    - `act_fns`: the `model.act_fn` values it takes.
    """

    name: str
    summary: str
    build: Callable[..., torch.nn.Module]
    logits: Callable[..., Tensor]
    describe: Callable[[Any], str]
    short: Callable[[Any], str]
    task_kinds: frozenset[str]
    resid: Callable[..., Tensor] | None = None
    resid_at: Callable[..., Tensor] | None = None
    build_tensors: Callable[..., torch.nn.Module | None] | None = None
    muon_names: Callable[[dict[str, Tensor]], list[str]] = hidden_matrices
    check: Callable[[Any], None] = no_check
    check_run: Callable[[Any], None] = no_check
    embedding: str | None = "embed.weight"
    embedding_transposed: bool = False
    embedding_title: str = "The embedding"
    embedding_note: str = ""
    tl_native: bool = False
    unembedding: bool = False
    no_measures: str | None = None
    batchable: bool = True
    act_fns: tuple[str, ...] = ("relu", "gelu")

    def input_embedding(self, params: dict[str, Tensor]) -> Tensor:
        """The embedding from the model's tensors, one row per input (token or input feature)."""
        return params[self.embedding].T if self.embedding_transposed else params[self.embedding]

    def stored_embedding(self, rows: Tensor) -> Tensor:
        """An embedding of one row per input in the orientation of the model's tensor."""
        return rows.T if self.embedding_transposed else rows

    def __post_init__(self) -> None:
        if self.no_measures is None and not self.tl_native:
            object.__setattr__(self, "no_measures",
                               f"progress measures read a transformer's weights; this run is a {self.name!r}")


_ARCHITECTURES: dict[str, Architecture] = {}


def register(arch: Architecture) -> Architecture:
    """Register an architecture (once, at import of its module)."""
    if arch.name in _ARCHITECTURES and _ARCHITECTURES[arch.name] is not arch:
        raise ValueError(f"model architecture {arch.name!r} is registered twice")
    _ARCHITECTURES[arch.name] = arch
    return arch


def unregister(name: str) -> None:
    """Remove a registered architecture (for tests that register one of their own)."""
    _ARCHITECTURES.pop(name, None)


def architectures() -> dict[str, Architecture]:
    """Every registered architecture by name (the package `grokinterp.models` imports them all)."""
    return dict(_ARCHITECTURES)


def get_architecture(name: str) -> Architecture:
    if name not in _ARCHITECTURES:
        raise ConfigError(f"model.arch must be one of {', '.join(_ARCHITECTURES)}, got {name!r}")
    return _ARCHITECTURES[name]


def architecture_of(cfg: Any) -> Architecture:
    """The architecture of a `ModelConfig` (or of a `RunConfig`'s model)."""
    return get_architecture(getattr(cfg, "model", cfg).arch)
