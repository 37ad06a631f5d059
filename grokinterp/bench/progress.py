"""`python -m grokinterp.bench progress RUN`: `progress.measures` (the fused forward on stacked checkpoints)
against a loop that loads every checkpoint into a hooked TL model and runs `run_with_cache`; the numbers must
agree."""

from __future__ import annotations

import time

import torch


def bench_progress(run_path: str, steps_limit: int | None = None) -> dict:
    """Time `progress.measures` (fused forward on stacked checkpoints) against a loop that loads every
    checkpoint into a hooked TL model and runs `run_with_cache` on all pairs; compare the numbers."""
    from grokinterp import progress
    from grokinterp.runs.run import load_run

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
            loop_rows.append(progress.measures_from_logits(logits[:, -1], sd, labels, task.train_idx,
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
