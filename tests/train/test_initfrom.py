"""`train.init_from=RUN[@STEP]` (grokinterp.train.initfrom): the new run's step-0 checkpoint is the source's
weights bitwise (its last checkpoint, or the one named), a smaller train fraction trains on a subset of the
source's pairs, a resumed run ends as an uninterrupted one, and a source that does not fit is one line."""

from __future__ import annotations

import pytest
import torch

from grokinterp.config import ConfigError
from grokinterp.runs.run import load_run
from grokinterp.tasks import make_task
from grokinterp.train import main as train_main
from grokinterp.train import train
from tests.helpers import assert_bitwise_equal, final_tensors, metrics_wo_time, tiny


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    out = tmp_path_factory.mktemp("source") / "run"
    train(tiny(), out, progress=False)
    return out


def test_step_0_is_the_sources_last_checkpoint_or_the_one_named(source, tmp_path):
    src = load_run(source)
    for init, step in ((str(source), src.steps[-1]), (f"{source}@20", 20)):
        out = tmp_path / f"from{step}"
        train(tiny(**{"train.init_from": init, "train.steps": 10, "task.frac_train": 0.3}), out, progress=False)
        run = load_run(out)
        assert_bitwise_equal(run.state_dict(0), src.state_dict(step))
        assert not torch.equal(run.state_dict(10)["embed.weight"], src.state_dict(step)["embed.weight"])
        meta = run.store.checkpoint_metadata(0)
        assert meta["init_from"] == init and meta["init_step"] == str(step)
        assert run.config.train.init_from == init


def test_a_smaller_fraction_trains_on_a_subset_of_the_sources_pairs():
    big, small = make_task(tiny().task), make_task(tiny(**{"task.frac_train": 0.2}).task)
    assert set(small.train_idx.tolist()) < set(big.train_idx.tolist())


def test_a_resumed_run_ends_as_an_uninterrupted_one(source, tmp_path):
    cfg = tiny(**{"train.init_from": str(source), "train.steps": 40, "task.frac_train": 0.3})
    train(cfg, tmp_path / "whole", progress=False)
    train(tiny(**{"train.init_from": str(source), "train.steps": 20, "task.frac_train": 0.3}), tmp_path / "cut",
          progress=False)
    train(cfg, tmp_path / "cut", progress=False)
    assert_bitwise_equal(final_tensors(tmp_path / "whole"), final_tensors(tmp_path / "cut"))
    assert metrics_wo_time(tmp_path / "whole") == metrics_wo_time(tmp_path / "cut")
    last = load_run(tmp_path / "cut")
    assert last.store.checkpoint_metadata(last.steps[-1])["init_step"] == str(load_run(source).steps[-1])


@pytest.mark.parametrize("overrides, needle", [
    ({"task.p": 13}, "embed.weight is"),
    ({"model.d_mlp": 32}, "is (64, 32)"),
    ({"model.arch": "mlp"}, "is a model.arch='transformer' run"),
    ({"train.init_from": "SOURCE@59"}, "has no checkpoint at step 59"),
    ({"train.init_from": "MISSING"}, "no run directory at"),
])
def test_a_source_that_does_not_fit_is_one_line(source, tmp_path, overrides, needle):
    values = {"train.init_from": str(source), **overrides}
    values["train.init_from"] = values["train.init_from"].replace("SOURCE", str(source)).replace(
        "MISSING", str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="train.init_from") as e:
        train(tiny(**values), tmp_path / "run", progress=False)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_other_initialisations_do_not_combine_and_the_cli_exits_2(source, tmp_path, capsys):
    with pytest.raises(ConfigError, match="does not combine"):
        tiny(**{"train.init_from": str(source), "accel.init_scale": 2.0})
    code = train_main(["mod113", "--out", str(tmp_path / "r"), "--no-progress", "--set", "task.p=13", "--set",
                       f"train.init_from={source}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "train.init_from" in err and "\n" not in err
