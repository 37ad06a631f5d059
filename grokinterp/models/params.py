"""Checkpoint tensors of any architecture: their names, which of them train, their squared norm, and loading
them into a model by name.

Every model of `grokinterp.models` is addressed by its `state_dict()` names, which are the keys of every
checkpoint; the fused forwards compute on exactly these tensors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

BUFFERS = frozenset({"unembed.bias"})  # checkpoint tensors that are buffers, not parameters
# the token embedding and GrokTransfer's factors of it: `train.embed_lr` / `train.embed_weight_decay` apply
EMBEDDING_PARAMS = frozenset({"embed.weight", "transfer.A", "transfer.B"})


def named_tensors(model: torch.nn.Module) -> dict[str, Tensor]:
    """Checkpoint name -> the live tensor (Parameters share storage with the model; buffers included)."""
    return dict(model.state_dict(keep_vars=True))


def tensor_module(tensors: dict[str, Tensor], buffers: frozenset[str] = BUFFERS) -> torch.nn.Module:
    """A bare module holding `tensors` under their dotted names, in their order: Parameters, except the names in
    `buffers`, which are buffers. Its `state_dict()` lists them in that order when the dict lists each module's
    tensors together and its parameters before its buffers (as `nn.Module.state_dict` does)."""
    root = torch.nn.Module()
    for name, t in tensors.items():
        *path, leaf = name.split(".")
        module = root
        for part in path:
            if part not in module._modules:
                module.add_module(part, torch.nn.Module())
            module = module._modules[part]
        if name in buffers:
            module.register_buffer(leaf, t)
        else:
            module.register_parameter(leaf, torch.nn.Parameter(t))
    return root


def is_bias(name: str) -> bool:
    return name.endswith(".bias") and ".ln" not in name and not name.startswith("ln_final")


def is_trainable(name: str, biases: str) -> bool:
    """Whether tensor `name` trains under `model.biases` ("all", "mlp": only the MLP's, "none")."""
    if not is_bias(name):
        return True
    if biases == "all":
        return True
    if biases == "mlp":
        return ".mlp." in name
    return False


@torch.no_grad()
def freeze_biases_(params: dict[str, Tensor], biases: str) -> None:
    """Zero and freeze the biases that `model.biases` keeps at 0 (the same function as having none)."""
    for name, t in params.items():
        if isinstance(t, torch.nn.Parameter):
            if not is_trainable(name, biases):
                t.zero_()
            t.requires_grad_(is_trainable(name, biases))


def weight_sq(tensors: dict[str, Tensor]) -> float:
    """Total sum of squared parameters (Nanda et al.'s measure), from live tensors or a checkpoint."""
    return float(sum(t.detach().double().pow(2).sum() for name, t in tensors.items() if name not in BUFFERS))


def trainable_parameters(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    """Checkpoint name -> Parameter, for the parameters that train (in a fixed order)."""
    return {n: t for n, t in named_tensors(model).items() if isinstance(t, torch.nn.Parameter) and t.requires_grad}


@torch.no_grad()
def load_tensors_(model: torch.nn.Module, tensors: dict[str, Tensor]) -> None:
    """Copy checkpoint tensors into the model, refusing missing or unexpected names and shape mismatches.

    Copies by name into the live tensors rather than trusting `load_state_dict(strict=True)`: TL issue
    #1587 was a bridge round trip that silently loaded nothing.
    """
    live = named_tensors(model)
    missing = sorted(set(live) - set(tensors))
    unexpected = sorted(set(tensors) - set(live))
    if missing or unexpected:
        raise ValueError(f"checkpoint does not fit the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, t in live.items():  # check every shape before copying anything
        if tensors[name].shape != t.shape:
            raise ValueError(f"checkpoint tensor {name} has shape {tuple(tensors[name].shape)}, "
                             f"model expects {tuple(t.shape)}")
    for name, t in live.items():
        t.copy_(tensors[name].to(device=t.device, dtype=t.dtype))


def position_index(answer_pos: tuple[int, ...]) -> slice | list[int]:
    """Answer positions as an index: contiguous ones as a slice (its backward is a copy, not a scattered
    add), others as a list."""
    first = answer_pos[0]
    return slice(first, first + len(answer_pos)) if answer_pos == tuple(range(first, first + len(answer_pos))) \
        else list(answer_pos)


def unembed(params: dict[str, Tensor], resid: Float[Tensor, "... d_model"]) -> Float[Tensor, "... d_vocab_out"]:
    """`W_U` (and its bias buffer) applied to final residuals (after `ln_final`)."""
    return F.linear(resid, params["unembed.weight"], params.get("unembed.bias"))
