"""The optimisers of a run: AdamW on every trainable tensor (with Liu et al.'s separate embedding lr and weight
decay as a second group, and the tensors of `train.no_decay` in groups of their own without weight decay), or
Muon on the architecture's hidden matrices and AdamW on the rest; their state as flat checkpoint tensors and
back."""

from __future__ import annotations

import torch

from grokinterp.config import RunConfig
from grokinterp.errors import ConfigError
from grokinterp.models import (
    EMBEDDING_PARAMS,
    architecture_of,
)
from grokinterp.runs.store import CheckpointError


def param_groups(cfg: RunConfig, params: dict[str, torch.nn.Parameter]) -> list[dict]:
    """One AdamW group, or two when `train.embed_lr` / `train.embed_weight_decay` give the embedding its own
    (Liu et al.'s representation vs decoder learning rates), each split in two when `train.no_decay` takes some
    of its tensors out of weight decay. `base_lr` is the lr before warm-up."""
    t = cfg.train
    if t.embed_lr is None and t.embed_weight_decay is None:
        groups = [{"params": list(params), "base_lr": t.lr, "lr": t.lr, "weight_decay": t.weight_decay}]
    else:
        e_lr = t.lr if t.embed_lr is None else t.embed_lr
        e_wd = t.weight_decay if t.embed_weight_decay is None else t.embed_weight_decay
        groups = [{"params": [n for n in params if n not in EMBEDDING_PARAMS], "base_lr": t.lr, "lr": t.lr,
                   "weight_decay": t.weight_decay},
                  {"params": [n for n in params if n in EMBEDDING_PARAMS], "base_lr": e_lr, "lr": e_lr,
                   "weight_decay": e_wd}]
    return [{**g, "params": [params[n] for n in g["params"]]} for g in without_decay(cfg, groups)]


def without_decay(cfg: RunConfig, groups: list[dict]) -> list[dict]:
    """Groups of tensor names with the names of `train.no_decay` moved into twins of their groups at weight
    decay 0; empty groups dropped."""
    keep = set(cfg.train.no_decay)
    out = []
    for g in groups:
        out.append({**g, "params": [n for n in g["params"] if n not in keep]})
        out.append({**g, "params": [n for n in g["params"] if n in keep], "weight_decay": 0.0})
    return [g for g in out if g["params"]]


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
    unknown = sorted(set(t.no_decay) - set(params))
    if unknown:
        raise ConfigError(f"train.no_decay names {', '.join(unknown)}: not a trainable tensor of this model "
                          f"(those are {', '.join(params)})")
    hidden = set(architecture_of(cfg.model).muon_names(params)) if t.optimizer == "muon" else set()
    rest = {n: p for n, p in params.items() if n not in hidden}
    opts = [make_adamw(cfg, rest)] if rest else []
    if hidden:
        groups = without_decay(cfg, [{"params": sorted(hidden), "base_lr": t.lr, "weight_decay": t.weight_decay}])
        opts.append(torch.optim.Muon([{**g, "params": [params[n] for n in g["params"]]} for g in groups], lr=t.lr,
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
