"""Benchmarks: `python -m grokinterp.bench train [--preset mod113] [--steps 50] [--repeats 3]`; `progress`
(see `bench_progress`); `grok` (time to grok per acceleration method, see `grokinterp.bench_grok`); `sweep`
(many small runs one by one vs batched with torch.func, see `grokinterp.bench_batched`).

`train` times one full training step (forward, float64 loss, backward, AdamW) of the `hooked` and the
`fused` engine on the same preset, from the same init, in one process, and prints:
- ms/step of each engine (median over repeats of the mean over `--steps` timed steps) and their ratio;
- engine equality: the max relative difference of the fused and hooked losses on the same parameters,
  at each of the first `--steps` steps of a hooked trajectory;
- the max relative loss difference between the two engines' own trajectories from one init, next to a
  baseline (hooked vs hooked with the train set in reverse order, the same loss up to float32 summation
  order): early AdamW steps amplify 1e-10 rounding differences to ~1e-5 within 50 steps, whichever
  engine is used, so the trajectory number measures float32 chaos more than the engine;
- the floor: the matmul FLOPs the fused step needs (3x the forward's), divided by this machine's matmul
  rate measured on the step's largest matmul shape, and how close the fused step is to it.
The last line is `fused/hooked speedup: N.NNx`. Numbers are only comparable within one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from grokinterp import engine
from grokinterp.config import ConfigError, RunConfig
from grokinterp.tasks import make_task
from grokinterp.train import SingleStepper


def fused_step_flops(cfg: RunConfig, batch: int, n_answer: int, n_ctx: int, d_vocab: int, d_vocab_out: int) -> int:
    """Matmul FLOPs of one fused training step: forward matmuls x 3 (backward ~ 2x forward)."""
    m = cfg.model
    d, hd = m.d_model, m.n_heads * m.d_head
    fwd = 0
    for layer in range(m.n_layers):
        last = layer == m.n_layers - 1
        rows = (d_vocab * n_ctx) if (layer == 0 and batch > d_vocab) else batch * n_ctx
        q_rows = batch * n_answer if last else batch * n_ctx
        fwd += 2 * rows * d * 3 * hd  # q, k, v projections (on the (token, pos) table in layer 0)
        fwd += 2 * 2 * batch * (n_answer if last else n_ctx) * n_ctx * hd  # scores and pattern @ v
        fwd += 2 * q_rows * hd * d  # W_O
        if not m.attn_only:
            fwd += 2 * 2 * q_rows * d * m.d_mlp  # W_in, W_out
    fwd += 2 * batch * n_answer * d * d_vocab_out  # unembed
    return 3 * fwd


def matmul_gflops(m: int, k: int, n: int, seconds: float = 0.5) -> float:
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(3):
        a @ b
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
    return 2 * m * k * n * reps / (time.perf_counter() - t0) / 1e9


def _run_engine(cfg: RunConfig, name: str, steps: int, warmup: int, *, reverse: bool = False, shadow: bool = False):
    """Train `warmup + steps` steps with one engine, timing each step of the trainer's own `SingleStepper`
    (forward, backward, optimizer step; no logging or checkpoints). `reverse` feeds the train set in reverse
    order (the same loss mathematically: a float32 summation-order baseline); `shadow` also evaluates the
    fused loss on the hooked trajectory's parameters at each step (engine equality without trajectory chaos)."""
    cfg = cfg.with_overrides({"train.engine": name})
    task = make_task(cfg.task)
    if reverse:
        task = task.with_split(task.train_idx.flip(0), task.test_idx)
    stepper = SingleStepper(cfg, task, torch.device("cpu"))
    x, y = stepper.train_tokens, stepper.train_labels
    losses, times, shadow_rel = [], [], []
    for step in range(warmup + steps):
        t0 = time.perf_counter()
        loss = stepper.forward(step)
        stepper.update(step, loss, [True])
        times.append(time.perf_counter() - t0)
        losses.append(loss.item())
        if shadow and step < steps:
            with torch.no_grad():
                # parameters have moved on by one step: compare both engines on them
                f = engine.answer_loss(engine.fused_logits(stepper.params, cfg.model, x, task.answer_pos), y).item()
                h = engine.answer_loss(engine.hooked_logits(stepper.model, x, task.answer_pos), y).item()
            shadow_rel.append(abs(f - h) / abs(h))
    if shadow:
        return losses[:steps], times[warmup:], shadow_rel
    return losses[:steps], times[warmup:]


def _max_rel(a: list[float], b: list[float]) -> float:
    return max(abs(x - y) / max(abs(y), 1e-30) for x, y in zip(a, b))


def bench_train(preset: str, steps: int, repeats: int, warmup: int = 5) -> dict:
    from grokinterp.presets import get_preset

    cfg = get_preset(preset)
    task = make_task(cfg.task)
    ms: dict[str, list[float]] = {"hooked": [], "fused": []}
    losses: dict[str, list[float]] = {}
    for _ in range(repeats):
        for name in ("hooked", "fused"):  # interleaved so drift in machine load hits both
            run_losses, t = _run_engine(cfg, name, steps, warmup)
            losses[name] = run_losses
            ms[name].append(1000 * statistics.mean(t))
    rel = _max_rel(losses["fused"], losses["hooked"])
    base, _ = _run_engine(cfg, "hooked", steps, 0, reverse=True)
    _, _, same_params = _run_engine(cfg, "hooked", steps, 0, shadow=True)
    n_train = len(task.train_idx)
    flops = fused_step_flops(cfg, n_train, len(task.answer_pos), task.n_ctx, task.d_vocab, task.d_vocab_out)
    rate = matmul_gflops(n_train * len(task.answer_pos), cfg.model.d_model, cfg.model.d_mlp)
    return {
        "preset": preset, "threads": torch.get_num_threads(), "steps": steps, "repeats": repeats,
        "hooked_ms": statistics.median(ms["hooked"]), "fused_ms": statistics.median(ms["fused"]),
        "max_rel_loss_diff": rel, "baseline_rel_loss_diff": _max_rel(base, losses["hooked"]),
        "same_params_rel_loss_diff": max(same_params), "fused_gflop": flops / 1e9, "matmul_gflops": rate,
        "floor_ms": flops / (rate * 1e9) * 1000,
    }


def print_train(r: dict) -> None:
    speedup = r["hooked_ms"] / r["fused_ms"]
    rows = [
        ("preset", r["preset"]),
        ("torch threads", str(r["threads"])),
        ("hooked ms/step", f"{r['hooked_ms']:.1f}"),
        ("fused ms/step", f"{r['fused_ms']:.1f}"),
        (f"max rel loss diff, same params (first {r['steps']} steps)", f"{r['same_params_rel_loss_diff']:.2e}"),
        ("max rel loss diff, fused vs hooked trajectories", f"{r['max_rel_loss_diff']:.2e}"),
        ("  baseline: hooked vs hooked, train set reversed", f"{r['baseline_rel_loss_diff']:.2e}"),
        ("fused step matmul GFLOP", f"{r['fused_gflop']:.3f}"),
        ("machine matmul GFLOP/s", f"{r['matmul_gflops']:.1f}"),
        ("floor ms/step (FLOPs / rate)", f"{r['floor_ms']:.1f}"),
        ("fused vs floor", f"{r['floor_ms'] / r['fused_ms']:.0%} of the floor's speed "
                           f"({r['fused_ms'] / r['floor_ms']:.2f}x the floor)"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(f"fused/hooked speedup: {speedup:.2f}x")


def bench_progress(run_path: str, steps_limit: int | None = None) -> dict:
    """Time `progress.measures` (fused forward on stacked checkpoints) against a loop that loads every
    checkpoint into a hooked TL model and runs `run_with_cache` on all pairs; compare the numbers."""
    from grokinterp import progress
    from grokinterp.runs import load_run

    run = load_run(run_path)
    steps = run.steps if steps_limit is None else run.steps[:: max(1, len(run.steps) // steps_limit)]
    t0 = time.perf_counter()
    table = progress.measures(run, steps, progress=False)
    t_vec = time.perf_counter() - t0
    key_freqs = list(table.key_freqs)
    basis = progress.basis_for(run.config, key_freqs)
    t0 = time.perf_counter()
    task = run.task()
    labels = task.labels[:, 0]
    loop_rows = []
    with torch.no_grad():
        for step in steps:
            model = run.model(step)
            logits, cache = model.run_with_cache(task.tokens)
            sd = run.state_dict(step)
            loop_rows.append(progress._measures_from_logits(logits[:, -1], sd, labels, task.train_idx,
                                                            task.test_idx, basis))
    t_loop = time.perf_counter() - t0
    worst, worst_col = 0.0, ""
    for col in loop_rows[0]:
        for i, row in enumerate(loop_rows):
            a, b = table[col][i], row[col]
            err = abs(a - b) / max(abs(b), 1e-3)  # relative, absolute below 1e-3
            if err > worst:
                worst, worst_col = err, col
    return {"run": run_path, "n_ckpt": len(steps), "vectorised_s": t_vec, "loop_s": t_loop,
            "max_rel_diff": worst, "worst_column": worst_col, "key_freqs": key_freqs,
            "threads": torch.get_num_threads()}


def print_progress(r: dict) -> None:
    rows = [
        ("run", r["run"]),
        ("checkpoints", str(r["n_ckpt"])),
        ("key frequencies", ", ".join(map(str, r["key_freqs"]))),
        ("torch threads", str(r["threads"])),
        ("vectorised (progress.measures) s", f"{r['vectorised_s']:.1f}"),
        ("loop (TL model + run_with_cache) s", f"{r['loop_s']:.1f}"),
        ("max rel diff of any measure", f"{r['max_rel_diff']:.1e} ({r['worst_column']})"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(f"vectorised/loop speedup: {r['loop_s'] / r['vectorised_s']:.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grokinterp.bench", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("train", help="ms/step of the hooked and fused engines")
    p.add_argument("--preset", default="mod113")
    p.add_argument("--steps", type=int, default=50, help="timed steps per engine and repeat (default 50)")
    p.add_argument("--repeats", type=int, default=3)
    q = sub.add_parser("progress", help="progress measures over all checkpoints: vectorised vs a TL loop")
    q.add_argument("--run", default="checkpoints/mod113", help="a trained mod-113 run (default checkpoints/mod113)")
    q.add_argument("--max-checkpoints", type=int, default=None, help="use about this many, evenly spaced")
    g = sub.add_parser("grok", help="steps and wall time to 99%% test accuracy: baseline, fused, Grokfast, "
                                    "GrokTransfer")
    g.add_argument("--preset", default="mod113")
    g.add_argument("--max-steps", type=int, default=25_000, help="step budget of every run (default 25000)")
    g.add_argument("--threshold", type=float, default=0.99, help="test accuracy to reach (default 0.99)")
    g.add_argument("--out", default=None, help="keep the runs here (default: a temporary directory)")
    g.add_argument("--only", default=None, help="comma-separated variant names to run")
    g.add_argument("--grokfast", default="alpha=0.98,lamb=2.0",
                   help="Grokfast-EMA settings, e.g. alpha=0.98,lamb=2.0,train.weight_decay=1.0")
    g.add_argument("--transfer-acc", type=float, default=0.6,
                   help="weak model's test accuracy at transfer (default 0.6)")
    w = sub.add_parser("sweep", help="many small runs: one by one vs batched with torch.func (one process)")
    w.add_argument("--preset", default="toy-add")
    w.add_argument("--steps", type=int, default=2000, help="steps per run (default 2000)")
    w.add_argument("--side", type=int, default=5, help="grid side: side x side runs (default 5)")
    w.add_argument("--out", default=None, help="keep the runs here (default: a temporary directory)")
    args = parser.parse_args(argv)
    if args.what == "sweep":
        from grokinterp.bench_batched import bench_batched, print_batched

        try:
            print_batched(bench_batched(args.preset, args.steps, args.side, args.out))
        except (ConfigError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    if args.what == "grok":
        from grokinterp.bench_grok import bench_grok, print_grok

        try:
            gf = {k: float(v) for k, v in (kv.split("=", 1) for kv in args.grokfast.split(",") if kv)}
            only = args.only.split(",") if args.only else None
            print_grok(bench_grok(args.preset, args.max_steps, args.threshold, args.out, only, gf, args.transfer_acc))
        except (ConfigError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted: no table (an interrupted run has no time to the threshold)", file=sys.stderr)
            return 130
        return 0
    if args.what == "progress":
        from pathlib import Path

        if not (Path(args.run) / "config.json").exists():
            print(f"error: no run at {args.run}; train one first: python -m grokinterp.train mod113", file=sys.stderr)
            return 2
        print_progress(bench_progress(args.run, args.max_checkpoints))
        return 0
    if args.steps < 1 or args.repeats < 1:
        print("error: --steps and --repeats must be >= 1", file=sys.stderr)
        return 2
    try:
        print_train(bench_train(args.preset, args.steps, args.repeats))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
