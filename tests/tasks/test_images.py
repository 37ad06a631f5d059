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


def _write_idx_set(root, n_train: int = 30, n_test: int = 12, size: int = 28, labels_to: int = 10):
    g = np.random.default_rng(1)
    root.mkdir(parents=True, exist_ok=True)
    arrays = {"train-images-idx3-ubyte": g.integers(0, 256, (n_train, size, size), dtype=np.uint8),
              "train-labels-idx1-ubyte": g.integers(0, labels_to, n_train, dtype=np.uint8),
              "t10k-images-idx3-ubyte": g.integers(0, 256, (n_test, size, size), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": g.integers(0, labels_to, n_test, dtype=np.uint8)}
    for name, a in arrays.items():
        _write_idx(root / (name + ".gz"), a, gz=True)  # as Debian's package ships them
    return arrays


def test_fashion_mnist_reads_the_debian_directory_or_data_path(tmp_path, monkeypatch):
    from grokinterp.tasks import images

    arrays = _write_idx_set(tmp_path / "fashion")
    monkeypatch.setattr(images, "FASHION_MNIST_DIR", str(tmp_path / "fashion"))
    task = make_task(TaskConfig(family="images", dataset="fashion-mnist", n_train=10, n_test=5))
    assert task.tokens.shape == (15, 784) and task.d_vocab == 784 and task.d_vocab_out == 10
    assert task.labels[task.test_idx, 0].tolist() == arrays["t10k-labels-idx1-ubyte"][:5].tolist()
    elsewhere = make_task(TaskConfig(family="images", dataset="fashion-mnist", data_path=str(tmp_path / "fashion"),
                                     n_train=10, n_test=5))
    assert torch.equal(elsewhere.tokens, task.tokens)
    monkeypatch.setattr(images, "FASHION_MNIST_DIR", str(tmp_path / "not-installed"))
    with pytest.raises(ConfigError, match="apt-get install dataset-fashion-mnist") as e:
        make_task(TaskConfig(family="images", dataset="fashion-mnist", n_train=10))
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("damage, words", [
    ({"labels_to": 12}, "expected 10 classes"),
    ({"n_test": 0}, "images of shape"),
])
def test_idx_sets_that_do_not_fit_together_are_one_line(damage, words, tmp_path):
    _write_idx_set(tmp_path / "d", **damage)
    if damage.get("n_test") == 0:  # labels without their images
        _write_idx(tmp_path / "d" / "t10k-labels-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8), gz=True)
    with pytest.raises(ConfigError, match=words):
        make_task(TaskConfig(family="images", dataset="mnist", data_path=str(tmp_path / "d"), n_train=5))


def test_a_truncated_idx_file_is_one_line(tmp_path):
    _write_idx_set(tmp_path / "d")
    path = tmp_path / "d" / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:100]))
    with pytest.raises(ConfigError, match="header says"):
        make_task(TaskConfig(family="images", dataset="mnist", data_path=str(tmp_path / "d"), n_train=5))


def test_mnist1d_is_generated_offline_and_leaves_numpy_seeded_state_alone():
    pytest.importorskip("mnist1d")
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    task = make_task(TaskConfig(family="images", dataset="mnist1d", n_train=100, n_test=0, seed=0))
    assert np.array_equal(np.random.get_state()[1], before)
    assert task.tokens.shape == (1100, 40) and task.d_vocab == 40 and len(task.test_idx) == 1000
    assert sorted(set(task.labels[:, 0].tolist())) == list(range(10))
    again = make_task(TaskConfig(family="images", dataset="mnist1d", n_train=100, n_test=0, seed=0))
    assert torch.equal(again.tokens, task.tokens)  # the same data set every time (its seed 42)
    with pytest.raises(ConfigError, match="holds 4000"):
        make_task(TaskConfig(family="images", dataset="mnist1d", n_train=5000))
    with pytest.raises(ConfigError, match="task.data_path is for the IDX data sets"):
        TaskConfig(family="images", dataset="mnist1d", data_path="/tmp").validate()
