"""The (n, k) sparse-parity family (GrokTransfer, Xu et al. 2025), added through the task-family registry
alone: its module and its preset."""

from __future__ import annotations

import subprocess

import pytest
import torch

from grokinterp.config import ConfigError, RunConfig, TaskConfig
from grokinterp.presets import get_preset
from grokinterp.tasks import families, make_task
from tests.helpers import REPO


def test_labels_are_the_product_of_the_first_k_coordinates():
    task = make_task(TaskConfig("parity", n_bits=12, k=3, n_train=512, n_test=128, seed=4))
    x, y = task.tokens, task.labels[:, 0]
    assert x.shape == (640, 12) and set(x.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(y, ((1 - x[:, :3].prod(dim=1)) / 2).long())
    flipped = x.clone()
    flipped[:, 3:] *= -1  # the other coordinates do not matter
    assert torch.equal(((1 - flipped[:, :3].prod(dim=1)) / 2).long(), y)
    assert 0.4 < y.float().mean() < 0.6  # both classes, about evenly
    assert (task.d_vocab, task.d_vocab_out, len(task.train_idx), len(task.test_idx)) == (12, 2, 512, 128)
    again = make_task(TaskConfig("parity", n_bits=12, k=3, n_train=512, n_test=128, seed=4))
    assert torch.equal(again.tokens, x)
    other = make_task(TaskConfig("parity", n_bits=12, k=3, n_train=512, n_test=128, seed=5))
    assert not torch.equal(other.tokens, x)


def test_parity_is_a_registered_family_of_vectors():
    fam = families()["parity"]
    assert fam.kind == "vectors" and fam.spec().describe() == "(40, 3)-parity, 1000 train / 1000 test"
    cfg = get_preset("parity")
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert set(cfg.to_dict()["task"]) == {"family", "seed", "n_bits", "k", "n_train", "n_test"}
    with pytest.raises(ConfigError, match="task.k must be between 1 and task.n_bits=4"):
        cfg.with_overrides({"task.n_bits": 4, "task.k": 5})
    with pytest.raises(ConfigError, match="do not go together"):
        cfg.with_overrides({"model.arch": "transformer"})


def test_the_family_is_named_only_in_its_module_and_its_preset():
    hits = subprocess.run(["git", "grep", "-l", "-i", "parity", "--", "grokinterp/*.py", "grokinterp/**/*.py"],
                          cwd=REPO, capture_output=True, text=True).stdout.split()
    if not hits:
        pytest.skip("not a git checkout")
    assert sorted(hits) == ["grokinterp/presets.py", "grokinterp/tasks/parity.py"]
