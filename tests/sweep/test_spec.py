"""Sweep specs (grokinterp.sweep.spec): parsing, grid expansion, run names and bad specs."""

from __future__ import annotations

import pytest

from grokinterp.config import ConfigError
from grokinterp.sweep.spec import SweepSpec, expand, format_value, load_spec
from tests.sweep.helpers import GRID, NAMES, write_spec


def test_spec_grid_names_and_configs(tmp_path):
    spec = load_spec(write_spec(tmp_path / "s.toml", set_={"train.steps": 2000}, grid=GRID,
                                extra="stop_when_grokked = true"))
    assert spec.preset == "mod113-small" and spec.stop_when_grokked and spec.set == {"train.steps": 2000}
    runs = expand(spec)
    assert [r.name for r in runs] == NAMES  # first key slowest, values as short forms
    assert runs[1].overrides == {"train.lr": 0.001, "train.weight_decay": 1.0}
    cfg = runs[2].config
    assert (cfg.train.lr, cfg.train.weight_decay, cfg.train.steps, cfg.task.p) == (3e-3, 0.0, 2000, 53)


def test_unquoted_dotted_keys_are_the_same_spec(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('preset = "mod113-small"\n[set]\ntrain.steps = 5\n[grid]\ntrain.lr = [0.001, 0.003]\n'
                    'train.weight_decay = [0.0, 1.0]\n')
    spec = load_spec(path)
    assert spec.set == {"train.steps": 5} and spec.grid == GRID
    assert [r.name for r in expand(spec)] == NAMES


def test_runs_crossed_with_grid_and_shared_labels(tmp_path):
    spec = load_spec(write_spec(tmp_path / "s.toml", grid={"task.seed": [0, 1]},
                                runs=[{"model.seed": 1}, {"model.seed": 2, "train.lr": 0.01}]))
    runs = expand(spec)
    # task.seed and model.seed share their last component: both keep the full key
    assert [r.name for r in runs] == ["task.seed=0_model.seed=1", "task.seed=0_model.seed=2_lr=0.01",
                                      "task.seed=1_model.seed=1", "task.seed=1_model.seed=2_lr=0.01"]
    assert runs[3].config.task.seed == 1 and runs[3].config.model.seed == 2 and runs[3].config.train.lr == 0.01
    only_runs = expand(SweepSpec(preset="mod113-small", runs=[{"model.seed": 1}, {"model.seed": 2}]))
    assert [r.name for r in only_runs] == ["seed=1", "seed=2"]
    assert [r.name for r in expand(SweepSpec(preset="mod113-small"))] == ["base"]


def test_names_are_filesystem_safe_and_unique():
    assert format_value(1.0) == "1" and format_value(1e-4) == "0.0001" and format_value(1e-5) == "1e-05"
    assert format_value([0.9, 0.98]) == "0.9,0.98" and format_value(True) == "true" and format_value(None) == "none"
    runs = expand(SweepSpec(preset="mod113-small", grid={"accel.transfer_from": ["a/b", "a b", "a?b"]}))
    names = [r.name for r in runs]
    assert names == ["transfer_from=a-b", "transfer_from=a-b-2", "transfer_from=a-b-3"]
    assert all("/" not in n and " " not in n for n in names)
    with pytest.raises(ConfigError, match="appears twice"):
        expand(SweepSpec(preset="mod113-small", runs=[{"model.seed": 1}, {"model.seed": 1}]))


@pytest.mark.parametrize("kwargs, needle", [
    (dict(grid={"train.wd": [1.0]}), "unknown config key 'train.wd'"),
    (dict(set_={"model.d_modle": 3}), "unknown config key 'model.d_modle'"),
    (dict(grid={"train.lr": [1e-3, -1.0]}), "run lr=-1: train.lr must be > 0"),
    (dict(runs=[{"task.frac_train": 2.0}]), "task.frac_train must be in (0, 1)"),
    (dict(preset="nope"), "unknown preset 'nope'"),
    (dict(grid={"train.lr": 0.1}), "[grid] train.lr must be a non-empty list"),
    (dict(grid={"train.lr": [0.1]}, runs=[{"train.lr": 0.2}]), "train.lr is in both [grid] and [[runs]]"),
    (dict(extra="budget = 3"), "unknown key 'budget'"),
])
def test_bad_specs_raise_config_error(tmp_path, kwargs, needle):
    path = write_spec(tmp_path / "s.toml", **kwargs)
    with pytest.raises(ConfigError) as e:
        expand(load_spec(path))
    assert needle in str(e.value) and str(path) in str(e.value)


def test_steps_after_grokked_implies_the_stop_and_is_checked(tmp_path):
    spec = load_spec(write_spec(tmp_path / "s.toml", set_={"train.steps": 20}, grid=GRID,
                                extra="steps_after_grokked = 500"))
    assert spec.stop_when_grokked and spec.steps_after_grokked == 500
    assert spec.to_dict()["steps_after_grokked"] == 500
    for bad in ("-1", "1.5", "true"):
        with pytest.raises(ConfigError, match="`steps_after_grokked` must be an integer >= 0"):
            load_spec(write_spec(tmp_path / f"bad{bad}.toml", set_={}, grid=GRID, extra=f"steps_after_grokked = {bad}"))
