"""The Omnigrok image task (grokinterp.tasks.images): the digits bundled with scikit-learn, and MNIST IDX files."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from grokinterp.config import ConfigError, TaskConfig
from grokinterp.tasks import make_task
from grokinterp.tasks.images import read_idx


def test_digits_task_is_offline_seeded_and_scaled():
    task = make_task(TaskConfig(family="images", dataset="digits", n_train=200, n_test=0, seed=0))
    assert task.tokens.shape == (1797, 64) and task.tokens.dtype == torch.float32
    assert float(task.tokens.min()) == 0.0 and float(task.tokens.max()) == 1.0
    assert len(task.train_idx) == 200 and len(task.test_idx) == 1597
    again = make_task(TaskConfig(family="images", dataset="digits", n_train=200, n_test=100, seed=0))
    assert torch.equal(again.tokens[again.train_idx], task.tokens[task.train_idx]) and len(again.test_idx) == 100
    with pytest.raises(ConfigError, match="only 1797"):
        make_task(TaskConfig(family="images", dataset="digits", n_train=5000))


def _write_idx(path, array: np.ndarray, gz: bool) -> None:
    code = {np.dtype(np.uint8): 0x08}[array.dtype]
    raw = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def test_mnist_idx_files(tmp_path):
    g = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": g.integers(0, 256, (30, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": g.integers(0, 10, 30, dtype=np.uint8),
              "t10k-images-idx3-ubyte": g.integers(0, 256, (12, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": g.integers(0, 10, 12, dtype=np.uint8)}
    for i, (name, a) in enumerate(arrays.items()):
        _write_idx(tmp_path / (name + (".gz" if i % 2 else "")), a, gz=bool(i % 2))
    assert np.array_equal(read_idx(tmp_path / "train-images-idx3-ubyte"), arrays["train-images-idx3-ubyte"])
    task = make_task(TaskConfig(family="images", dataset="mnist", data_path=str(tmp_path), n_train=10, n_test=0))
    assert task.tokens.shape == (22, 784) and len(task.test_idx) == 12
    test_pixels = arrays["t10k-images-idx3-ubyte"].reshape(12, -1) / 255.0
    assert np.allclose(task.tokens[task.test_idx].numpy(), test_pixels, atol=1e-6)
    assert task.labels[task.test_idx, 0].tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    (tmp_path / "bad").write_bytes(b"\x12\x34\x08\x01" + b"\0" * 8)
    with pytest.raises(ValueError, match="bad magic"):
        read_idx(tmp_path / "bad")
    with pytest.raises(ConfigError, match="no t10k-labels"):
        (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
        make_task(TaskConfig(family="images", dataset="mnist", data_path=str(tmp_path), n_train=10))
