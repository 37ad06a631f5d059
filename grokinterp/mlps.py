"""Hooked MLPs for the non-transformer experiments: Liu et al. 2022's toy adder and Omnigrok's image MLP.

Both are TransformerLens `HookedRootModule`s with `HookPoint`s, so `run_with_cache`/`run_with_hooks` work
as on the transformers; their logits are also pure functions of the parameter dict (`toy_logits`,
`image_mlp_logits`), which the fused engine and the analyses call.

`ToyAdder` (Liu, Kitouni, Nolte, Michaud, Tegmark, Williams 2022, "Towards Understanding Grokking: An
Effective Theory of Representation Learning"): `[x, y, ...]` -> E_x + E_y (addition hard-wired) -> `n_layers`
hidden layers of width `d_mlp` (`act_fn`, tanh in the paper's code) -> logits. Tensors: `embed.weight`
(d_vocab, d_model), `decoder.{i}.weight`/`.bias` (i = 0 .. n_layers, the last is the readout). Hooks:
`hook_embed` (batch, 2, d_model), `hook_sum` (batch, d_model), `hook_post.{i}` (batch, d_mlp).

`ImageMLP` (Liu, Michaud, Tegmark 2023, "Omnigrok", the MNIST model: 784-200-200-10 ReLU): pixels ->
`n_layers` hidden layers of width `d_mlp` -> one logit per class (10 for images). Tensors
`layers.{i}.weight`/`.bias`; hooks `hook_post.{i}`.

`OneHotMLP` (Prieto, Barsbey, Mediano, Birdal 2025, "Grokking at the edge of numerical stability", their
modular-arithmetic MLP, `MLP(input_size=2p, hidden_sizes=[200, 200], bias=False)`): the one-hot codes of the
two operands of `[a, b, =]` concatenated (2 (d_vocab - 1) inputs: '=' has no code) -> `n_layers` hidden
layers -> logits. The same tensors and hooks as `ImageMLP`, plus `hook_input` (batch, 2 (d_vocab - 1)). The
preset's `biases = "none"` keeps the bias tensors frozen at 0, which is their `bias=False`.

Inits: "tl" is PyTorch's default (`nn.Linear`'s Kaiming-uniform, `nn.Embedding`'s N(0, 1)), seeded by
`model.seed`; "paper" is the same except the toy adder's embedding, U[-1/2, 1/2] as in Liu et al.'s code
(scale s = 1). Omnigrok's large initial scale is `accel.init_scale`. Every bias of these models trains unless
`model.biases = "none"` (all their layers are MLP layers).
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor

from grokinterp.config import ModelConfig


def _hooks():
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


def _mlp(params: dict[str, Tensor], prefix: str, n_layers: int, act_fn: str, h: Tensor, hooks=None,
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


def toy_logits(params: dict[str, Tensor], cfg: ModelConfig,
               tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch d_vocab_out"]:
    """`ToyAdder` logits from its tensors."""
    emb = params["embed.weight"]
    return _mlp(params, "decoder", cfg.n_layers, cfg.act_fn, emb[tokens[:, 0]] + emb[tokens[:, 1]])


def image_mlp_logits(params: dict[str, Tensor], cfg: ModelConfig,
                     pixels: Float[Tensor, "batch n_pixels"]) -> Float[Tensor, "batch n_classes"]:
    """`ImageMLP` logits from its tensors."""
    return _mlp(params, "layers", cfg.n_layers, cfg.act_fn, pixels.to(params["layers.0.weight"].dtype))


def onehot_inputs(tokens: Int[Tensor, "batch pos"], d_vocab: int, dtype: torch.dtype) -> Float[Tensor, "batch n_in"]:
    """The one-hot codes of the operands a = tokens[:, 0], b = tokens[:, 1] over d_vocab - 1 symbols, concatenated."""
    n = d_vocab - 1
    return torch.nn.functional.one_hot(tokens[:, :2], n).to(dtype).reshape(tokens.shape[0], 2 * n)


def onehot_mlp_logits(params: dict[str, Tensor], cfg: ModelConfig,
                      tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch d_vocab_out"]:
    """`OneHotMLP` logits from its tensors. The first layer reads two columns of its weight (W[:, a] + W[:, n + b],
    exactly the one-hot product) instead of multiplying by the one-hot codes."""
    w, bias = params["layers.0.weight"], params.get("layers.0.bias")
    table = w.T
    lookup = torch.nn.functional.embedding
    h = lookup(tokens[:, 0], table) + lookup(w.shape[1] // 2 + tokens[:, 1], table)
    return _mlp(params, "layers", cfg.n_layers, cfg.act_fn, h if bias is None else h + bias, start=1)


def _linears(sizes: list[int]) -> torch.nn.ModuleList:
    return torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))


def make_toy_adder(cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int) -> torch.nn.Module:
    HookedRootModule, HookPoint = _hooks()

    class ToyAdder(HookedRootModule):
        __doc__ = __doc__

        def __init__(self):
            super().__init__()
            self.cfg, self.n_ctx = cfg, n_ctx
            self.embed = torch.nn.Embedding(d_vocab, cfg.d_model)
            self.decoder = _linears([cfg.d_model] + [cfg.d_mlp] * cfg.n_layers + [d_vocab_out])
            self.hook_embed = HookPoint()
            self.hook_sum = HookPoint()
            self.hook_post = torch.nn.ModuleList(HookPoint() for _ in range(cfg.n_layers))
            self.setup()

        def forward(self, tokens: Tensor) -> Tensor:
            """Logits (batch, pos, d_vocab_out), the same at every position (the model reads x and y only)."""
            e = self.hook_embed(self.embed.weight[tokens[:, :2]])
            h = self.hook_sum(e[:, 0] + e[:, 1])
            params = dict(self.decoder.named_parameters(prefix="decoder"))
            logits = _mlp(params, "decoder", cfg.n_layers, cfg.act_fn, h, self.hook_post)
            return logits[:, None, :].expand(tokens.shape[0], tokens.shape[1], logits.shape[-1])

    return ToyAdder()


def make_image_mlp(cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int) -> torch.nn.Module:
    HookedRootModule, HookPoint = _hooks()

    class ImageMLP(HookedRootModule):
        def __init__(self):
            super().__init__()
            self.cfg, self.n_ctx = cfg, n_ctx
            self.layers = _linears([d_vocab] + [cfg.d_mlp] * cfg.n_layers + [d_vocab_out])
            self.hook_post = torch.nn.ModuleList(HookPoint() for _ in range(cfg.n_layers))
            self.setup()

        def forward(self, pixels: Tensor) -> Tensor:
            """Logits (batch, 1, n_classes)."""
            params = dict(self.layers.named_parameters(prefix="layers"))
            x = pixels.to(self.layers[0].weight.dtype)
            return _mlp(params, "layers", cfg.n_layers, cfg.act_fn, x, self.hook_post)[:, None, :]

    return ImageMLP()


def make_onehot_mlp(cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int) -> torch.nn.Module:
    HookedRootModule, HookPoint = _hooks()

    class OneHotMLP(HookedRootModule):
        def __init__(self):
            super().__init__()
            self.cfg, self.n_ctx = cfg, n_ctx
            self.layers = _linears([2 * (d_vocab - 1)] + [cfg.d_mlp] * cfg.n_layers + [d_vocab_out])
            self.hook_input = HookPoint()
            self.hook_post = torch.nn.ModuleList(HookPoint() for _ in range(cfg.n_layers))
            self.setup()

        def forward(self, tokens: Tensor) -> Tensor:
            """Logits (batch, pos, d_vocab_out), the same at every position (the model reads a and b only)."""
            params = dict(self.layers.named_parameters(prefix="layers"))
            x = self.hook_input(onehot_inputs(tokens, d_vocab, self.layers[0].weight.dtype))
            logits = _mlp(params, "layers", cfg.n_layers, cfg.act_fn, x, self.hook_post)
            return logits[:, None, :].expand(tokens.shape[0], tokens.shape[1], logits.shape[-1])

    return OneHotMLP()


MAKERS = {"toy": make_toy_adder, "image-mlp": make_image_mlp, "onehot-mlp": make_onehot_mlp}


def build_mlp_model(cfg: ModelConfig, d_vocab: int, d_vocab_out: int, n_ctx: int, device) -> torch.nn.Module:
    """A seeded `ToyAdder` (arch "toy"), `ImageMLP` ("image-mlp") or `OneHotMLP` ("onehot-mlp")."""
    torch.manual_seed(cfg.seed)
    make = MAKERS[cfg.arch]
    model = make(cfg, d_vocab, d_vocab_out, n_ctx)
    with torch.no_grad():
        if cfg.arch == "toy" and cfg.init == "paper":
            g = torch.Generator().manual_seed(cfg.seed)
            model.embed.weight.copy_(torch.rand(model.embed.weight.shape, generator=g) - 0.5)
        for name, t in model.named_parameters():
            if cfg.biases == "none" and name.endswith(".bias"):
                t.zero_()
                t.requires_grad_(False)
    return model.to(device)
