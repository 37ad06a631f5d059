"""The architecture registry: every `model.arch` is one module, nothing outside it tests its name, every
registered architecture's fused forward is its hooked model's forward, and a new architecture is one module
(here: one registration in the test) that then trains, checkpoints and reloads like the built-in ones."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

from grokinterp.errors import ConfigError
from grokinterp.models import architectures, build_model, fused_logits, get_architecture, hooked_logits, named_tensors
from grokinterp.models.config import refuse_dropout
from grokinterp.models.registry import Architecture, register
from grokinterp.presets import get_preset
from tests.helpers import tiny

ROOT = Path(__file__).resolve().parents[2]


def test_no_module_outside_the_registry_compares_model_arch():
    hits = subprocess.run(["git", "grep", "-nE", r"\barch\s*(==|!=|in\b|not in\b)", "--", "grokinterp"],
                          cwd=ROOT, capture_output=True, text=True)
    if hits.returncode not in (0, 1):
        pytest.skip("not a git checkout")
    assert hits.stdout.splitlines() == []


def test_the_built_in_architectures_are_registered():
    assert set(architectures()) == {"transformer", "power", "mlp", "toy", "image-mlp", "onehot-mlp", "nnconv"}
    with pytest.raises(ConfigError, match="model.arch must be one of"):
        get_architecture("lstm")


@pytest.mark.parametrize("name", ["transformer", "power", "mlp", "toy", "onehot-mlp"])
def test_each_fused_forward_is_its_hooked_forward(name):
    over = {"model.arch": name, "model.init": "tl"}
    if name in ("toy", "onehot-mlp"):
        over["model.n_layers"] = 2
    if name == "power":
        over["model.normalization_type"] = None
    cfg = tiny(**over)
    model = build_model(cfg.model, 18, 18, 3)
    tokens = torch.randint(0, 17, (40, 3))
    tokens[:, 2] = 17
    with torch.no_grad():
        fused = fused_logits(named_tensors(model), cfg.model, tokens, (2,))
        hooked = hooked_logits(model, tokens, (2,))
    assert fused.shape == hooked.shape == (40, 1, 18)
    torch.testing.assert_close(fused, hooked, rtol=1e-4, atol=1e-5)


def test_descriptions_name_each_architecture_once():
    vector_presets = {"image-mlp": "parity", "nnconv": "qm9-omnigrok"}  # architectures of float-vector tasks
    for name, arch in architectures().items():
        cfg = get_preset(vector_presets[name]).model if name in vector_presets else tiny(**{"model.arch": name}).model
        assert arch.describe(cfg) and arch.short(cfg) and "\n" not in arch.describe(cfg)


# a new architecture: a bigram table (the answer read from the last operand alone), one registration


class Bigram(torch.nn.Module):
    def __init__(self, cfg, d_vocab, d_vocab_out):
        super().__init__()
        self.embed = torch.nn.Embedding(d_vocab, cfg.d_model)
        self.unembed = torch.nn.Linear(cfg.d_model, d_vocab_out, bias=False)

    def forward(self, tokens):
        return bigram_logits(dict(self.state_dict(keep_vars=True)), None, tokens, tuple(range(tokens.shape[1])))


def bigram_logits(params, cfg, tokens, answer_pos):
    x = params["embed.weight"][tokens[:, [p - 1 for p in answer_pos]]]
    return x @ params["unembed.weight"].T


def build_bigram(cfg, d_vocab, d_vocab_out, n_ctx, device="cpu"):
    torch.manual_seed(cfg.seed)
    return Bigram(cfg, d_vocab, d_vocab_out).to(device)


@pytest.fixture
def bigram():
    from grokinterp.models import registry

    arch = register(Architecture(name="bigram", summary="a bigram table", build=build_bigram, logits=bigram_logits,
                                 describe=lambda m: f"bigram d_model {m.d_model}", short=lambda m: "bigram",
                                 task_kinds=frozenset({"pairs"}), check=refuse_dropout))
    yield arch
    registry.unregister("bigram")


def test_a_new_architecture_is_one_registration(bigram, tmp_path):
    from grokinterp import load_run
    from grokinterp.train import train

    cfg = tiny(**{"model.arch": "bigram", "train.steps": 40, "train.lr": 3e-2})
    with pytest.raises(ConfigError, match="model.dropout"):
        cfg.with_overrides({"model.dropout": 0.1})
    with pytest.raises(ConfigError, match="do not go together"):
        cfg.with_overrides({"task.family": "sequences"})
    train(cfg, tmp_path / "run", progress=False)
    run = load_run(tmp_path / "run")
    assert run.steps[-1] == 40
    first, last = run.metrics[0], run.metrics[-1]
    assert last["train_loss"] < first["train_loss"]  # it trained
    model = run.model(40)
    assert isinstance(model, Bigram)
    assert torch.equal(model.embed.weight, run.state_dict(40)["embed.weight"])
    assert "bigram" in bigram.no_measures
