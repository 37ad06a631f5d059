"""Shared sweep specs for the sweep tests: tiny runs and a TOML writer."""

from __future__ import annotations

import json
from pathlib import Path

# 4 tiny runs of ~30 steps: well below a second each on one core
TINY_SET = {
    "task.p": 13, "model.d_model": 16, "model.d_mlp": 32, "model.n_heads": 2, "model.d_head": 8,
    "train.steps": 30, "train.ckpt_every": 10, "train.ckpt_log_points": 0, "train.device": "cpu",
}
GRID = {"train.lr": [1e-3, 3e-3], "train.weight_decay": [0.0, 1.0]}
NAMES = ["lr=0.001_weight_decay=0", "lr=0.001_weight_decay=1", "lr=0.003_weight_decay=0", "lr=0.003_weight_decay=1"]


def write_spec(path: Path, preset: str = "mod113-small", set_: dict | None = None, grid: dict | None = None,
               runs: list[dict] | None = None, extra: str = "") -> Path:
    """A TOML spec (JSON scalars, strings and arrays are valid TOML)."""
    lines = [f"preset = {json.dumps(preset)}", extra]
    for table, values in (("set", set_), ("grid", grid)):
        if values:
            lines.append(f"[{table}]")
            lines += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in values.items()]
    for entry in runs or []:
        lines.append("[[runs]]")
        lines += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in entry.items()]
    path.write_text("\n".join(lines) + "\n")
    return path
