"""Tests for grokinterp.config: JSON round trip, dotted overrides, validation errors."""

from __future__ import annotations

import json

import pytest

from grokinterp.config import ConfigError, ModelConfig, RunConfig, TaskConfig, TrainConfig
from tests.helpers import tiny


def custom_config() -> RunConfig:
    return RunConfig(
        task=TaskConfig(op="odd_div", p=31, frac_train=0.45, seed=3),
        model=ModelConfig(n_layers=2, d_model=24, n_heads=3, d_head=8, d_mlp=40, act_fn="gelu",
                          normalization_type="LN", attn_only=True, init="tl", biases="all", seed=5),
        train=TrainConfig(steps=17, lr=3e-4, weight_decay=0.5, betas=(0.8, 0.95), eps=1e-7, batch_size=9,
                          engine="hooked", device="cuda:1", grok_threshold=0.9, seed=2),
        preset="tiny",
    ).validate()


@pytest.mark.parametrize("cfg", [RunConfig(), custom_config()], ids=["default", "custom"])
def test_json_round_trip(cfg):
    text = cfg.to_json()
    json.loads(text)  # valid JSON
    back = RunConfig.from_json(text)
    assert back == cfg
    assert isinstance(back.train.betas, tuple)
    assert back.train.betas == cfg.train.betas
    assert back.to_json() == text


def test_overrides_apply_values_with_types():
    base = RunConfig()
    cfg = base.with_overrides(
        ["train.weight_decay=0.3", "model.act_fn=gelu", "model.normalization_type=null", "train.betas=[0.9,0.99]",
         "model.d_model=64", "model.attn_only=true", "train.device=cuda:0", "task.op=mul"]
    )
    assert cfg.train.weight_decay == 0.3 and type(cfg.train.weight_decay) is float
    assert cfg.model.act_fn == "gelu"
    assert cfg.model.normalization_type is None
    assert cfg.train.betas == (0.9, 0.99) and isinstance(cfg.train.betas, tuple)
    assert cfg.model.d_model == 64 and type(cfg.model.d_model) is int
    assert cfg.model.attn_only is True
    assert cfg.train.device == "cuda:0"
    assert cfg.task.op == "mul"
    # the original is untouched
    assert base == RunConfig()
    ln = base.with_overrides(["model.normalization_type=LN"])
    assert ln.model.normalization_type == "LN"
    assert ln.with_overrides(["model.normalization_type=None"]).model.normalization_type is None


def test_overrides_as_dict():
    cfg = RunConfig().with_overrides({"train.lr": 0.01, "task.p": 31})
    assert cfg.train.lr == 0.01 and cfg.task.p == 31


def test_int_accepted_for_float_field():
    cfg = RunConfig().with_overrides(["train.lr=1"])
    assert cfg.train.lr == 1.0 and type(cfg.train.lr) is float


def test_biases_none_override():
    assert RunConfig().with_overrides(["model.biases=none"]).model.biases == "none"


def test_quoted_none_string_override():
    assert RunConfig().with_overrides(['model.biases="none"']).model.biases == "none"


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model.d_model=1.5", "model.d_model"),
        ("model.d_model=abc", "model.d_model"),
        ("model.d_model=true", "model.d_model"),
        ("model.attn_only=1", "model.attn_only"),
        ("train.lr=fast", "train.lr"),
        ("train.betas=[0.9]", "train.betas"),
        ("train.betas=[0.9,1.0]", "train.betas"),
        ("train.wd=1", "train.wd"),
        ("optim.lr=1", "optim.lr"),
        ("lr=1", "lr"),
        ("train.lr", "train.lr"),
        ("task.frac_train=0", "task.frac_train"),
        ("task.frac_train=1", "task.frac_train"),
        ("task.frac_train=1.5", "task.frac_train"),
        ("task.p=1", "task.p"),
        ("task.op=pow", "task.op"),
        ("train.engine=turbo", "train.engine"),
        ("train.device=gpu", "train.device"),
        ("train.device=cuda:x", "train.device"),
        ("model.act_fn=tanh", "model.act_fn"),
        ("model.n_heads=0", "model.n_heads"),
        ("task.family=images", "task.family"),
    ],
)
def test_bad_override_is_one_line_error_naming_key(override, key):
    with pytest.raises(ConfigError) as exc:
        RunConfig().with_overrides([override])
    msg = str(exc.value)
    assert key in msg
    assert "\n" not in msg
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize("op", ["div", "odd_div"])
@pytest.mark.parametrize("p", [12, 9, 1])
def test_division_needs_prime(op, p):
    with pytest.raises(ConfigError) as exc:
        RunConfig().with_overrides([f"task.op={op}", f"task.p={p}"])
    assert "task." in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize("op", ["div", "odd_div", "add"])
def test_prime_and_composite_moduli_accepted_where_valid(op):
    assert RunConfig().with_overrides([f"task.op={op}", "task.p=13"]).task.p == 13
    if op == "add":
        assert RunConfig().with_overrides(["task.p=12"]).task.p == 12


def test_from_dict_refuses_unknown_key_in_section():
    d = RunConfig().to_dict()
    d["model"]["dmodel"] = 3
    with pytest.raises(ConfigError, match="model.dmodel"):
        RunConfig.from_dict(d)


def test_from_dict_refuses_unknown_section_and_non_object():
    d = RunConfig().to_dict()
    d["optimizer"] = {}
    with pytest.raises(ConfigError, match="optimizer"):
        RunConfig.from_dict(d)
    with pytest.raises(ConfigError, match="model"):
        RunConfig.from_dict({"model": 3})


def test_from_dict_validates():
    d = RunConfig().to_dict()
    d["task"]["p"] = 12
    d["task"]["op"] = "div"
    with pytest.raises(ConfigError):
        RunConfig.from_dict(d)


def test_differences_lists_changed_keys():
    base = RunConfig()
    assert base.differences(RunConfig()) == []
    other = base.with_overrides(["train.steps=5", "model.d_model=64", "task.seed=9", "train.betas=[0.5,0.6]"])
    assert sorted(base.differences(other)) == sorted(["train.steps", "model.d_model", "task.seed", "train.betas"])
    assert sorted(other.differences(base)) == sorted(base.differences(other))


@pytest.mark.parametrize("override, needle", [
    ({"accel.grokfast": "fft"}, "accel.grokfast"),
    ({"accel.alpha": 1.0}, "accel.alpha"),
    ({"accel.init_scale": 0}, "accel.init_scale"),
])
def test_accel_config_errors(override, needle):
    with pytest.raises(ConfigError, match=needle):
        tiny(**override)


@pytest.mark.parametrize("override, needle", [
    ({"train.steps": 1e30}, "train.steps must be at most 1,000,000,000"),
    ({"train.steps": 1_000_000_000_000}, "train.steps must be at most 1,000,000,000"),
    ({"train.steps": 10**9, "train.ckpt_every": 100}, "checkpoints, more than 100,000: raise train.ckpt_every"),
    ({"train.ckpt_log_points": 10**8}, "train.ckpt_log_points must be at most 1,000"),
    ({"train.batch_size": 10**9}, "train.batch_size must be at most"),
    ({"model.d_model": 10**9}, "model.d_model must be at most 65,536"),
    ({"task.family": "sequences", "task.seq_len": 10**10}, "task.seq_len must be at most 67,108,864"),
    ({"task.family": "teacher-student", "model.arch": "image-mlp", "task.width": 10**9}, "task.width must be at most"),
])
def test_sizes_have_upper_bounds_stated_in_one_line(override, needle):
    with pytest.raises(ConfigError, match=needle):
        tiny(**override)


def test_validate_checks_fields_set_on_the_object():
    """`validate()` checks types and finiteness as `--set` does, not only the ranges."""
    cfg = tiny()
    cfg.train.lr = float("nan")
    with pytest.raises(ConfigError, match="train.lr must be a finite number"):
        cfg.validate()
    cfg = tiny()
    cfg.train.steps = "10"
    with pytest.raises(ConfigError, match="train.steps must be an integer"):
        cfg.validate()
    cfg = tiny()
    cfg.model.d_model = 32.0  # a whole float is taken as the integer it is
    assert cfg.validate().model.d_model == 32 and isinstance(cfg.model.d_model, int)
