"""`python -m grokinterp.bench grok`: steps and wall time to a test accuracy (default 99%) for ways of
training the same preset (same task, split, threshold), one after another in this process:

- `baseline-hooked`: the preset on the `hooked` engine, the loop a user would write with TransformerLens;
- `fused`: the same on the `fused` engine;
- `grokfast-ema`: fused + Grokfast-EMA (`--grokfast` sets alpha, lamb and the weight decay);
- `groktransfer`: a weak pair-MLP (4-d embedding, width 64, lr 3e-3) trained until test accuracy `--transfer-acc`
  (default 0.6),
  then the fused target with its embedding started as A B (A = the weak embedding); its time is the weak
  run's plus the target's;
- `groktransfer-weak@0.3`: the same with the weak model stopped at 30% test accuracy (how much the weak
  model's own progress matters);
- `groktransfer-random-A`: the same with A random (the reviewers' ablation: is it the transferred
  embedding or only the low-rank factorisation?);
- `groktransfer+grokfast`: both.

Times are the runs' own training clocks (checkpoint writes included, process start-up excluded) at the
first logged step at or above the threshold. Runs go to `--out` (default: a temporary directory) and can be
kept for the report. The table ends with `best/baseline wall-time speedup: N.NNx`: the fastest variant that
reached the threshold against the baseline; when the baseline does not reach it within `--max-steps`, the
ratio is a lower bound (marked `>=`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from grokinterp.presets import get_preset
from grokinterp.runs import load_run
from grokinterp.train import train

WEAK = {"model.arch": "mlp", "model.d_model": 4, "model.d_mlp": 64, "train.lr": 3e-3}


@dataclass
class Variant:
    name: str
    overrides: dict
    weak: dict | None = None  # weak-run overrides (GrokTransfer)


@dataclass
class Result:
    name: str
    steps: int | None  # to the threshold (None: not reached)
    wall_s: float  # to the threshold, or the whole run when not reached
    weak_s: float = 0.0
    weak_steps: int | None = None

    @property
    def total_s(self) -> float:
        return self.wall_s + self.weak_s


def variants(grokfast: dict, transfer_acc: float, early_acc: float = 0.3) -> list[Variant]:
    gf = {f"accel.{k}" if not k.startswith("train.") else k: v for k, v in grokfast.items()}

    def transfer(acc: float) -> tuple[dict, dict]:
        return ({"accel.transfer_mode": "factored", "accel.transfer_acc": acc},
                {**WEAK, "train.grok_threshold": acc})

    tr, weak = transfer(transfer_acc)
    tr_early, weak_early = transfer(early_acc)
    return [
        Variant("baseline-hooked", {"train.engine": "hooked"}),
        Variant("fused", {}),
        Variant("grokfast-ema", {"accel.grokfast": "ema", **gf}),
        Variant("groktransfer", tr, weak),
        Variant(f"groktransfer-weak@{early_acc:g}", tr_early, weak_early),
        Variant("groktransfer-random-A", {**tr, "accel.transfer_random": True}, weak),
        Variant("groktransfer+grokfast", {**tr, "accel.grokfast": "ema", **gf}, weak),
    ]


def _train_or_stop(cfg, path: Path, progress) -> None:
    """Train one variant; Ctrl-C / SIGTERM (train() checkpoints and returns) stops the whole benchmark
    instead of timing an interrupted run as if it had not reached the threshold."""
    if train(cfg, path, stop_when_grokked=True, progress=progress).interrupted:
        raise KeyboardInterrupt


def _time_to(run_path: Path, threshold: float) -> tuple[int | None, float]:
    rows = load_run(run_path).metrics
    hit = next((r for r in rows if r["test_acc"] >= threshold), None)
    return (hit["step"], hit["wall_time"]) if hit else (None, rows[-1]["wall_time"])


def bench_grok(preset: str = "mod113", max_steps: int = 25_000, threshold: float = 0.99, out: str | None = None,
               only: list[str] | None = None, grokfast: dict | None = None, transfer_acc: float = 0.6,
               progress: bool | None = None) -> dict:
    grokfast = {"alpha": 0.98, "lamb": 2.0} if grokfast is None else grokfast
    root = Path(out) if out else Path(tempfile.mkdtemp(prefix="grokinterp-bench-"))
    results = []
    for v in variants(grokfast, transfer_acc):
        if only and v.name not in only:
            continue
        path = root / v.name
        shutil.rmtree(path, ignore_errors=True)
        weak_s, weak_steps = 0.0, None
        extra = {}
        if v.weak is not None:
            weak_path = root / f"{v.name}.weak"
            shutil.rmtree(weak_path, ignore_errors=True)
            weak_cfg = get_preset(preset).with_overrides({**v.weak, "train.steps": max_steps})
            _train_or_stop(weak_cfg, weak_path, progress)
            weak_steps, weak_s = _time_to(weak_path, v.weak["train.grok_threshold"])
            if weak_steps is None:
                results.append(Result(v.name, None, 0.0, weak_s, None))
                continue
            extra = {"accel.transfer_from": str(weak_path)}
        cfg = get_preset(preset).with_overrides({**v.overrides, **extra, "train.steps": max_steps,
                                                 "train.grok_threshold": threshold})
        _train_or_stop(cfg, path, progress)
        steps, wall = _time_to(path, threshold)
        results.append(Result(v.name, steps, wall, weak_s, weak_steps))
    return {"preset": preset, "threshold": threshold, "max_steps": max_steps, "out": str(root),
            "cores": os.cpu_count(), "threads": torch.get_num_threads(), "grokfast": grokfast,
            "transfer_acc": transfer_acc, "results": results}


def print_grok(r: dict) -> None:
    res: list[Result] = r["results"]
    print(f"preset {r['preset']}, test accuracy >= {r['threshold']}, at most {r['max_steps']} steps; "
          f"{r['cores']} CPU cores, {r['threads']} torch threads; runs in {r['out']}")
    print(f"grokfast {r['grokfast']}; weak model: pair MLP {WEAK} until test accuracy {r['transfer_acc']}")
    base = next((x for x in res if x.name == "baseline-hooked"), None)
    print(f"{'variant':<24} {'steps':>11} {'weak steps':>10} {'weak s':>8} {'target s':>9} {'total s':>8} "
          f"{'vs baseline':>12}")
    for x in res:
        steps = "not reached" if x.steps is None else str(x.steps)
        ratio = ""
        if base is not None and x.steps is not None and x.total_s > 0:
            ratio = f"{'>=' if base.steps is None else ''}{base.total_s / x.total_s:.2f}x"
        print(f"{x.name:<24} {steps:>11} {x.weak_steps if x.weak_steps is not None else '-':>10} "
              f"{x.weak_s:>8.1f} {x.wall_s:>9.1f} {x.total_s:>8.1f} {ratio:>12}")
    reached = [x for x in res if x.steps is not None and x.name != "baseline-hooked"]
    if base is None or not reached:
        print("best/baseline wall-time speedup: n/a (no baseline, or no variant reached the threshold)")
        return
    best = min(reached, key=lambda x: x.total_s)
    bound = ">=" if base.steps is None else ""
    print(f"best: {best.name}")
    print(f"best/baseline wall-time speedup: {bound}{base.total_s / best.total_s:.2f}x")
