"""The shared kit of the hooked MLP architectures (`grokinterp.models.toy`, `image_mlp`, `onehot_mlp`): a stack
of linear layers with an activation and a `HookPoint` after each hidden layer, computed as a pure function of
the tensors (`mlp_layers`), and the seeded build every one of them shares.

These models are TransformerLens `HookedRootModule`s with `HookPoint`s, so `run_with_cache`/`run_with_hooks`
work as on the transformers; their logits are also pure functions of the parameter dict, which the fused
forward and the analyses call.

Inits: "tl" is PyTorch's default (`nn.Linear`'s Kaiming-uniform, `nn.Embedding`'s N(0, 1)), seeded by
`model.seed`; "paper" is the same except the toy adder's embedding, U[-1/2, 1/2] as in Liu et al.'s code
(scale s = 1). Omnigrok's large initial scale is `accel.init_scale`. Every bias of these models trains unless
`model.biases = "none"` (all their layers are MLP layers).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from grokinterp.models.config import ModelConfig


def hook_classes():
    """TransformerLens's `HookedRootModule` and `HookPoint` (imported quietly)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from transformer_lens import HookedRootModule
        from transformer_lens.hook_points import HookPoint
    return HookedRootModule, HookPoint


def activation(name: str, x: Tensor) -> Tensor:
    if name == "relu":
        return torch.relu(x)
    if name == "tanh":
        return torch.tanh(x)
    return torch.nn.functional.gelu(x)


def mlp_layers(params: dict[str, Tensor], prefix: str, n_layers: int, act_fn: str, h: Tensor, hooks=None,
               start: int = 0) -> Tensor:
    """Layers `start`..n_layers of an MLP on h (h is layer `start`'s input, or its pre-activation if start > 0)."""
    if start:
        h = activation(act_fn, h)
    for i in range(start, n_layers + 1):
        h = torch.nn.functional.linear(h, params[f"{prefix}.{i}.weight"], params.get(f"{prefix}.{i}.bias"))
        if i < n_layers:
            h = activation(act_fn, h)
            if hooks is not None:
                h = hooks[i](h)
    return h


def linears(sizes: list[int]) -> torch.nn.ModuleList:
    return torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))


def build_mlp_stack(make: Callable[..., torch.nn.Module], cfg: ModelConfig, d_vocab: int, d_vocab_out: int,
                    n_ctx: int, device: str | torch.device = "cpu") -> torch.nn.Module:
    """`make(cfg, d_vocab, d_vocab_out, n_ctx)` seeded by `model.seed` (PyTorch's default init), with every bias
    frozen at 0 under `model.biases = "none"`."""
    torch.manual_seed(cfg.seed)
    model = make(cfg, d_vocab, d_vocab_out, n_ctx)
    with torch.no_grad():
        for name, t in model.named_parameters():
            if cfg.biases == "none" and name.endswith(".bias"):
                t.zero_()
                t.requires_grad_(False)
    return model.to(device)


def expand_to_answers(logits: Tensor, answer_pos: tuple[int, ...]) -> Tensor:
    """(batch, d_out) logits of a model that reads its operands only, at every answer position."""
    return logits[:, None, :].expand(logits.shape[0], len(answer_pos), logits.shape[-1])


def at_answers(logits: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """The registry's fused forward of a model whose logits read its operands only: `logits(params, cfg, inputs)`
    at every answer position."""

    def forward(params: dict[str, Tensor], cfg: ModelConfig, inputs: Tensor, answer_pos: tuple[int, ...]) -> Tensor:
        return expand_to_answers(logits(params, cfg, inputs), answer_pos)

    return forward


def stack_describe(what: str, m: ModelConfig, embedding: bool) -> str:
    emb = f"d_model {m.d_model}, " if embedding else ""
    return f"{what}: {emb}{m.n_layers} hidden layer(s) of {m.d_mlp}, {m.act_fn}, init {m.init}"
