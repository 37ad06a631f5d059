"""The run record: a run's config as `config.json` holds it (the `RunConfig` plus the package versions and
Python that wrote it), and its round trip. It lives beside the run store, below both the trainer that
writes it and `load_run`, which reads it."""

from __future__ import annotations

import importlib.metadata as md
import platform

from grokinterp.config import RunConfig

SECTIONS = ("task", "model", "train", "accel", "preset")
PACKAGES = ("grokinterp", "torch", "transformer-lens", "safetensors", "numpy")


def config_record(cfg: RunConfig) -> dict:
    """What `config.json` holds for `cfg`."""
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {**cfg.to_dict(), "versions": versions, "python": platform.python_version()}


def config_from_record(record: dict) -> RunConfig:
    """The `RunConfig` of a `config.json`, including those written before the task-family registry (their
    flat task section held every family's keys)."""
    if not isinstance(record, dict):
        raise ValueError(f"config.json must hold a JSON object, not {type(record).__name__}")
    return RunConfig.from_dict({k: v for k, v in record.items() if k in SECTIONS}, legacy=True)
