"""Image classification for Omnigrok (Liu, Michaud, Tegmark 2023, "Omnigrok: Grokking Beyond Algorithmic
Data"): a few labelled images, an MLP started at a large weight scale, and test accuracy that catches up with
train accuracy long after it.

Data sets, both read offline (nothing is ever downloaded):
- "digits": the 1,797 8x8 handwritten digits that scikit-learn ships (`sklearn.datasets.load_digits`, the
  UCI optdigits test set; pixels 0..16, scaled to [0, 1]). `n_train` images form a seeded random subset, the
  test set is `n_test` others (0: all the rest).
- "mnist": the standard MNIST IDX files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
  `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each optionally gzipped) in the directory
  `data_path`; pixels scaled to [0, 1]. `n_train` images are a seeded random subset of the 60,000 training
  images (Omnigrok: 1,000), the test set the first `n_test` of the 10,000 test images (0: all).

The `Task` holds the flattened pixels as float rows in `tokens` (shape `[n, n_pixels]`), one label per image
read at "answer position" 0, `d_vocab` = the number of pixels and `d_vocab_out` = 10.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from grokinterp.errors import ConfigError
from grokinterp.tasks.base import Task, vector_task
from grokinterp.tasks.registry import Family, TaskSpec, register

IMAGE_DATASETS = ("digits", "mnist")


@dataclass
class ImageSpec(TaskSpec):
    """Image classification (Omnigrok): `dataset` "digits" (the 8x8 digits scikit-learn ships, 1,797 images)
    or "mnist" (the IDX files in `data_path`); `n_train` training images (a seeded random subset), `n_test`
    test images (0: all the others; for MNIST, of its test files)."""

    dataset: str = "digits"
    data_path: str = ""  # mnist: directory holding the four MNIST IDX files (optionally .gz)
    n_train: int = 1000
    n_test: int = 1000

    def validate(self) -> None:
        if self.dataset not in IMAGE_DATASETS:
            raise ConfigError(f"task.dataset must be one of {', '.join(IMAGE_DATASETS)}, got {self.dataset!r}")
        if self.dataset == "mnist" and not self.data_path:
            raise ConfigError("task.dataset='mnist' reads the MNIST IDX files: set task.data_path to their "
                              "directory (nothing is downloaded)")
        if self.n_train < 1 or self.n_test < 0:
            raise ConfigError(f"task.n_train must be >= 1 and task.n_test >= 0, got {self.n_train} and "
                              f"{self.n_test}")

    def describe(self) -> str:
        test = str(self.n_test) if self.n_test else ("all other" if self.dataset == "digits" else "all")
        return f"{self.dataset} images, {self.n_train} train / {test} test"

    @property
    def n_answers(self) -> int:
        return 10

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (the MNIST format: big-endian magic 0x00 0x00 type ndim, ndim uint32 sizes, then the data)
    as a numpy array; gzipped files are read transparently."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if raw[2] not in dtypes:
        raise ValueError(f"{path}: unknown IDX data type 0x{raw[2]:02x}")
    ndim = raw[3]
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=dtypes[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape} ({int(np.prod(shape))} values), file holds {data.size}")
    return data.reshape(shape)


def _find(root: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (root / name).is_file():
            return root / name
    raise ConfigError(f"task.data_path: no {stem}[.gz] in {root} (the four MNIST IDX files are needed)")


def load_mnist(data_path: str | Path) -> dict[str, np.ndarray]:
    """The four MNIST arrays from the IDX files in `data_path`: images (n, 28, 28) uint8, labels (n,)."""
    root = Path(data_path).expanduser()
    if not root.is_dir():
        raise ConfigError(f"task.data_path: {root} is not a directory")
    return {k: read_idx(_find(root, stem)) for k, stem in MNIST_FILES.items()}


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits: (1797, 64) pixels in 0..16 and labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        raise ConfigError("task.dataset='digits' needs scikit-learn (pip install scikit-learn)") from None
    d = load_digits()
    return d.data, d.target


def image_task(train_x: Float[Tensor, "n_train n_pixels"], train_y: Int[Tensor, " n_train"],
               test_x: Float[Tensor, "n_test n_pixels"], test_y: Int[Tensor, " n_test"]) -> Task:
    return vector_task(train_x, train_y, test_x, test_y, 10)


def make_image_task(cfg: ImageSpec) -> Task:
    g = torch.Generator().manual_seed(cfg.seed)
    if cfg.dataset == "digits":
        pixels, labels = load_digits_arrays()
        x = torch.from_numpy(pixels / 16.0)
        y = torch.from_numpy(labels)
        if cfg.n_train >= len(x):
            raise ConfigError(f"task.n_train={cfg.n_train}: the digits data set has only {len(x)} images")
        perm = torch.randperm(len(x), generator=g)
        train, rest = perm[:cfg.n_train], perm[cfg.n_train:]
        test = rest if cfg.n_test == 0 else rest[:cfg.n_test]
        if cfg.n_test > len(rest):
            raise ConfigError(f"task.n_test={cfg.n_test}: only {len(rest)} digits images are left for testing")
        return image_task(x[train], y[train], x[test], y[test])
    m = load_mnist(cfg.data_path)
    tx = torch.from_numpy(m["train_images"].reshape(len(m["train_images"]), -1) / 255.0)
    ty = torch.from_numpy(m["train_labels"].astype(np.int64))
    if cfg.n_train > len(tx):
        raise ConfigError(f"task.n_train={cfg.n_train}: the MNIST training files hold {len(tx)} images")
    train = torch.randperm(len(tx), generator=g)[:cfg.n_train]
    sx = torch.from_numpy(m["test_images"].reshape(len(m["test_images"]), -1) / 255.0)
    sy = torch.from_numpy(m["test_labels"].astype(np.int64))
    n_test = len(sx) if cfg.n_test == 0 else min(cfg.n_test, len(sx))
    return image_task(tx[train], ty[train], sx[:n_test], sy[:n_test])


register(Family("images", ImageSpec, make_image_task, "vectors", "image classification of Omnigrok (Liu et al. 2023)"))
