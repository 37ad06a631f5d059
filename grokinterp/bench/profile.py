"""Where a training step's time goes: `python -m grokinterp.bench profile [--preset mod113] [--steps 20]`.

The preset's default engine is stepped on the trainer's own `SingleStepper` (forward, loss, backward, AdamW; no
logging or checkpoints) under `torch.profiler`, after warm-up steps. Every aten operator's self CPU time is put
in one group (`GROUPS`, matched on the operator's name, first match wins): matrix products, attention,
softmax and log-softmax, LayerNorm, the optimiser (fused AdamW), loss (NLL, gather, the float64 casts), indexing
and copies, other elementwise work; operators of no group, and the Python between operators, are "other". The
table gives each group's share of the profiled wall time, so the rows add up to the step. The profiler's own
bookkeeping lands in "other" and makes a profiled step slower than `bench train`'s timed one.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict

import torch

from grokinterp.presets import get_preset
from grokinterp.tasks import make_task
from grokinterp.train.single import SingleStepper

# (group, a regular expression on the aten operator's name without "aten::" and leading underscores), the first
# match wins
GROUPS: tuple[tuple[str, str], ...] = (
    ("attention", r"scaled_dot_product|flash_attention|efficient_attention"),
    ("matmul", r"(mm|addmm|bmm|baddbmm|matmul|linear|einsum|dot|mv)(_backward)?$"),
    ("softmax", r"(log_)?softmax"),
    ("layernorm", r"(native_)?layer_norm"),
    ("optimizer", r"fused_adamw?|foreach_"),
    ("loss", r"nll_loss|gather|to_copy$|to$"),
    ("indexing/copy", r"(index|embedding|copy|cat|stack|clone|contiguous|slice|select|view|reshape|permute|"
                      r"transpose|expand|narrow|split|unsqueeze|squeeze|t|as_strided|unbind|detach)(_|$)"),
    ("elementwise", r"(add|mul|sub|div|relu|gelu|threshold|pow|sqrt|rsqrt|exp|log|neg|where|fill|zero|sum|mean|"
                    r"max|min|clamp|rsub|ones|zeros|empty|lerp|addcmul|addcdiv|sign|abs|ge|gt|le|lt|eq|ne|"
                    r"masked_fill|argmax|any|all)(_|$)"),
)


def group_of(op: str) -> str:
    name = op.removeprefix("aten::").lstrip("_")
    return next((group for group, pattern in GROUPS if re.match(pattern, name)), "other")


def profile_step(preset: str, steps: int = 20, warmup: int = 5) -> dict[str, float]:
    """ms per step of each group (module docstring), plus `total`: the wall time per profiled step."""
    from torch.profiler import ProfilerActivity, profile

    cfg = get_preset(preset)
    stepper = SingleStepper(cfg, make_task(cfg.task), torch.device("cpu"))
    for step in range(warmup):
        stepper.update(step, stepper.forward(step), [True])
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for step in range(warmup, warmup + steps):
            stepper.update(step, stepper.forward(step), [True])
        wall = time.perf_counter() - t0
    groups: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        if event.key.startswith("aten::"):
            groups[group_of(event.key)] += event.self_cpu_time_total / 1e3  # microseconds -> ms
    total = 1000 * wall
    out = {name: ms / steps for name, ms in groups.items()}
    out["other"] = total / steps - sum(v for k, v in out.items() if k != "other")
    out["total"] = total / steps
    return out


def print_profile(preset: str, r: dict[str, float]) -> None:
    total = r["total"]
    print(f"{preset}: {total:.2f} ms/step (default engine, profiled)")
    for name in [g for g, _ in GROUPS] + ["other"]:
        if name in r:
            print(f"  {name:<14} {r[name]:8.2f} ms  {100 * r[name] / total:5.1f}%")
