"""`python -m grokinterp.bench train [--preset NAME | --all]`: how fast a training step is, and how far from
what this machine's matmuls allow.

For each preset, in one process and on the same initialisation:
- ms/step of the `hooked` engine (the TransformerLens forward) and of the preset's default engine, each
  timed on the trainer's own `SingleStepper` (forward, float64 loss, backward, AdamW; no logging or
  checkpoints), the median over `--repeats` of the mean over `--steps` steps, the engines interleaved so
  that drift in machine load hits both;
- loss agreement: the max relative difference of the two engines' losses on the same parameters and the
  same batch, at the initialisation, after the warm-up steps and after the timed steps;
- loop ms/step: the whole training command in steady state, every metrics row, evaluation and checkpoint
  included: `train()` is run to step `LOOP_START` (past the dense early checkpoints), then extended by
  `--loop-steps` steps, and that second call (resume included) is timed;
- the floor: every matrix product of one default-engine step (forward and backward) is recorded with its
  shape (`mm`, `addmm`, `bmm`, `baddbmm`; a fused attention kernel counts as the two products of its
  forward and the four of its backward, dense); each distinct shape is then timed alone on this machine.
  The floor is the sum of those times: the step with every product at the machine's measured speed for
  its own shape and nothing else. GFLOP/s is the step's matmul FLOPs over the floor.

With `--precision bfloat16` the default engine trains at `train.precision=bfloat16` (its loss is then compared
with the float32 hooked engine's, so the loss column shows bfloat16's rounding), while the hooked engine and the
floor stay float32: default/floor then says how far mixed precision goes below float32's floor.

The last line is `worst default-engine/floor: N.NNx`. Numbers are only comparable within one run.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from grokinterp import models
from grokinterp.config import ConfigError, RunConfig
from grokinterp.models import fused_scored
from grokinterp.presets import PRESETS, get_preset
from grokinterp.scoring import Scored
from grokinterp.tasks import make_task
from grokinterp.train import train
from grokinterp.train.single import SingleStepper

LOOP_START = 100

aten = torch.ops.aten
Shape = tuple[int, int, int, int]  # (batch, m, k, n): batch products of (m, k) @ (k, n)


def _sdpa_shapes(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, backward: bool) -> list[Shape]:
    bh, lq, e = q.shape[:-2].numel(), q.shape[-2], q.shape[-1]
    s, ev = k.shape[-2], v.shape[-1]
    if not backward:  # scores = q k^T, out = P v
        return [(bh, lq, e, s), (bh, lq, s, ev)]
    # dV = P^T dO, dP = dO V^T, dQ = dS K, dK = dS^T Q
    return [(bh, s, lq, ev), (bh, lq, ev, s), (bh, lq, s, e), (bh, s, lq, e)]


class MatmulRecorder(TorchDispatchMode):
    """Counts the matrix products (by shape) that run under it, autograd's backward included."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: Counter[Shape] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        packet = getattr(func, "overloadpacket", None)
        if packet in (aten.mm, aten.addmm):
            a, b = (args[0], args[1]) if packet is aten.mm else (args[1], args[2])
            self.shapes[(1, a.shape[0], a.shape[1], b.shape[1])] += 1
        elif packet in (aten.bmm, aten.baddbmm):
            a, b = (args[0], args[1]) if packet is aten.bmm else (args[1], args[2])
            self.shapes[(a.shape[0], a.shape[1], a.shape[2], b.shape[2])] += 1
        elif packet is not None and "scaled_dot_product" in packet.__name__:
            backward = packet.__name__.endswith("_backward")
            q, k, v = args[1:4] if backward else args[:3]
            self.shapes.update(_sdpa_shapes(q, k, v, backward))
        return func(*args, **kwargs)


def time_matmul(shape: Shape, seconds: float = 0.1) -> float:
    """Seconds per product of this shape on this machine (at least 5 timed calls, after a warm-up)."""
    b, m, k, n = shape
    x, y = (torch.randn(m, k), torch.randn(k, n)) if b == 1 else (torch.randn(b, m, k), torch.randn(b, k, n))
    op = torch.mm if b == 1 else torch.bmm
    out = op(x, y)
    for _ in range(3):
        op(x, y, out=out)
    reps, t0 = 0, time.perf_counter()
    while reps < 5 or time.perf_counter() - t0 < seconds:
        op(x, y, out=out)
        reps += 1
    return (time.perf_counter() - t0) / reps


@torch.no_grad()
def _engine_rel_diff(stepper: SingleStepper, step: int, hooked: torch.nn.Module) -> float:
    """|fused - hooked| / |hooked| of the training loss on the stepper's current parameters and batch; `hooked` is
    a hooked model of the stepper's config (its tensors are loaded from the stepper's)."""
    cfg, task = stepper.cfg, stepper.task
    xb, yb, _ = stepper.train_batch(step)
    with stepper.autocast():  # the default engine at the stepper's precision, the hooked one in float32
        f = fused_scored(stepper.params, cfg.model, xb, task.answer_pos, yb)
    if hooked is not stepper.model:
        models.load_tensors_(hooked, stepper.params)
    h = Scored.from_logits(models.hooked_logits(hooked, xb, task.answer_pos), yb)
    if stepper.targets is not None:  # a regression (teacher-student): labels are row ids, scored as training does
        targets = stepper.targets[yb.reshape(-1)]
        f, h = f.with_targets(targets, task.tolerance), h.with_targets(targets, task.tolerance)
    f, h = f.loss(cfg.train.loss).item(), h.loss(cfg.train.loss).item()
    return abs(f - h) / max(abs(h), 1e-30)


def _time_engine(cfg: RunConfig, name: str, steps: int, warmup: int, precision: str = "float32"
                 ) -> tuple[list[float], list[float]]:
    """(seconds of each timed step, loss agreement checks) of `warmup + steps` steps with engine `name` at
    `train.precision=precision`."""
    cfg = cfg.with_overrides({"train.engine": name, "train.precision": precision})
    stepper = SingleStepper(cfg, make_task(cfg.task), torch.device("cpu"))
    task = stepper.task  # the fused engine trains bare tensors: one hooked model, built once, for the checks
    hooked = stepper.model if name == "hooked" else models.build_model(cfg.model, task.d_vocab, task.d_vocab_out,
                                                                         task.n_ctx)
    times, checks = [], [_engine_rel_diff(stepper, 0, hooked)]
    for step in range(warmup + steps):
        if step == warmup:
            checks.append(_engine_rel_diff(stepper, step, hooked))
        t0 = time.perf_counter()
        loss = stepper.forward(step)
        stepper.update(step, loss, [True])
        if step >= warmup:
            times.append(time.perf_counter() - t0)
    checks.append(_engine_rel_diff(stepper, warmup + steps, hooked))
    return times, checks


def step_shapes(cfg: RunConfig) -> Counter[Shape]:
    """The matrix products of one training step (forward and backward) of `cfg`'s engine."""
    stepper = SingleStepper(cfg, make_task(cfg.task), torch.device("cpu"))
    with MatmulRecorder() as rec:
        loss = stepper.forward(1)
        loss.backward()
    return rec.shapes


def loop_ms(cfg: RunConfig, steps: int) -> float:
    """ms/step of the whole `train()` loop from step `LOOP_START` to `LOOP_START + steps` (see the module
    docstring)."""
    with tempfile.TemporaryDirectory() as out:
        train(cfg.with_overrides({"train.steps": LOOP_START}), out, progress=False)
        t0 = time.perf_counter()
        train(cfg.with_overrides({"train.steps": LOOP_START + steps}), out, progress=False)
        return (time.perf_counter() - t0) / steps * 1000


@dataclass
class TrainBench:
    preset: str
    engine: str  # the preset's default engine, and its precision when not float32
    hooked_ms: float
    default_ms: float
    loss_rel_diff: float  # max over the checks, same parameters and batch
    gflop: float  # matmul GFLOP of one default-engine step
    floor_ms: float
    loop_ms: float | None  # the whole training command per step; None when not measured

    @property
    def speedup(self) -> float:
        return self.hooked_ms / self.default_ms

    @property
    def gflops(self) -> float:
        return self.gflop / self.floor_ms * 1000

    @property
    def default_vs_floor(self) -> float:
        return self.default_ms / self.floor_ms


def bench_preset(preset: str, steps: int, repeats: int, warmup: int = 5, loop_steps: int = 0,
                 precision: str = "float32") -> TrainBench:
    """`precision`: the default engine's `train.precision` (the hooked engine and the floor stay float32)."""
    cfg = get_preset(preset)
    default = cfg.train.engine
    ms: dict[str, list[float]] = {"hooked": [], default: []}
    checks: list[float] = []
    for _ in range(repeats):
        for name in ms:
            times, c = _time_engine(cfg, name, steps, warmup, precision if name == default else "float32")
            ms[name].append(1000 * statistics.mean(times))
            checks += c
    shapes = step_shapes(cfg)
    floor = sum(count * time_matmul(shape) for shape, count in shapes.items())
    flop = sum(2 * b * m * k * n * count for (b, m, k, n), count in shapes.items())
    loop = loop_ms(cfg.with_overrides({"train.precision": precision}), loop_steps) if loop_steps > 0 else None
    label = default if precision == "float32" else f"{default}, {precision}"
    return TrainBench(preset, label, statistics.median(ms["hooked"]), statistics.median(ms[default]), max(checks),
                      flop / 1e9, floor * 1000, loop)


HEADER = ("preset", "hooked ms", "default ms", "speedup", "loss rel diff", "GFLOP/step", "GFLOP/s",
          "floor ms", "default/floor", "hooked/floor", "loop ms")


def row(r: TrainBench) -> tuple[str, ...]:
    return (r.preset, f"{r.hooked_ms:.2f}", f"{r.default_ms:.2f} ({r.engine})", f"{r.speedup:.2f}x",
            f"{r.loss_rel_diff:.1e}", f"{r.gflop:.4f}", f"{r.gflops:.1f}", f"{r.floor_ms:.3f}",
            f"{r.default_vs_floor:.2f}x", f"{r.hooked_ms / r.floor_ms:.2f}x",
            "-" if r.loop_ms is None else f"{r.loop_ms:.2f}")


# column widths of the table printed row by row: the longest preset name, and room for each value
WIDTHS = (max(len(n) for n in PRESETS), 9, 24, 7, 13, 10, 7, 8, 13, 12, 7)  # "23.26 (fused, bfloat16)" fits


def format_row(cells: tuple[str, ...]) -> str:
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, WIDTHS)))


def print_summary(results: list[TrainBench], skipped: dict[str, str]) -> None:
    """The lines after the table: the skipped presets and why, the thread count, the worst ratio."""
    for name, why in skipped.items():
        print(f"{name}: skipped ({why})")
    print(f"torch threads: {torch.get_num_threads()}")
    if results:
        worst = max(results, key=lambda r: r.default_vs_floor)
        print(f"worst default-engine/floor: {worst.default_vs_floor:.2f}x ({worst.preset})")


def bench_train(presets: list[str], steps: int, repeats: int, loop_steps: int = 0, progress: bool = True,
                precision: str = "float32") -> tuple[list[TrainBench], dict[str, str]]:
    """Benchmark every preset, printing its row of the table as soon as it is measured (with `progress`), so
    an interruption or a failure keeps every row before it; presets whose task cannot be built here (e.g. a
    missing data set) are skipped with the reason."""
    results, skipped = [], {}
    if progress:
        print(format_row(HEADER), flush=True)
    for name in presets:
        try:
            results.append(bench_preset(name, steps, repeats, loop_steps=loop_steps, precision=precision))
        except (ConfigError, FileNotFoundError) as e:
            skipped[name] = str(e)
            continue
        if progress:
            print(format_row(row(results[-1])), flush=True)
    return results, skipped


def distinct_presets() -> list[str]:
    """Every preset, less those whose training step is another's (they differ only in the step budget, the
    checkpoint schedule or the operation, whose answers change but not the step: mod113-demo, power-sub,
    ...)."""
    seen, names = set(), []
    for name in PRESETS:
        d = get_preset(name).to_dict()
        d.pop("preset", None)
        d["task"].pop("op", None)
        for key in ("steps", "ckpt_every", "ckpt_log_points", "log_every", "grok_threshold"):
            d["train"].pop(key, None)
        key = repr(d)
        if key not in seen:
            seen.add(key)
            names.append(name)
    return names
