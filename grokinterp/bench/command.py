"""The whole training command against a plain TransformerLens loop: `python -m grokinterp.bench command
--preset repeat-subseq-infinite --steps 1000`.

Both run in processes of their own, interleaved `--repeats` times, and their wall clocks (Python's start, the
imports, building the task and the model, and everything after) are compared:

- ours: `python -m grokinterp.train PRESET --set train.steps=N --out TMP --no-progress`: the trainer with its
  evaluation every `train.log_every` steps, its dense early checkpoints and its run directory;
- the plain loop (`python -m grokinterp.bench plain-tl --preset PRESET --steps N`, `plain_tl_loop`): what a
  TransformerLens user writes: the same hooked model and task, `torch.optim.AdamW` with the preset's settings,
  cross-entropy on the scored positions, N steps, one test evaluation at the end, nothing written.

The ratio plain / ours is the speed-up of the whole command (issue target: at least 3x on
repeat-subseq-infinite).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

from grokinterp.presets import get_preset


def plain_tl_loop(preset: str, steps: int) -> float:
    """Train the preset's hooked model `steps` steps the plain way; returns the loss of its last training batch."""
    from grokinterp.models import build_model
    from grokinterp.tasks import make_task
    from grokinterp.train.single import minibatch

    cfg = get_preset(preset)
    task = make_task(cfg.task)
    model = build_model(cfg.model, task.d_vocab, task.d_vocab_out, task.n_ctx)
    t = cfg.train
    opt = torch.optim.AdamW(model.parameters(), lr=t.lr, betas=tuple(t.betas), eps=t.eps, weight_decay=t.weight_decay)
    pos = list(task.answer_pos)

    def loss_of(tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = model(tokens)[:, pos]
        scored = labels >= 0
        return torch.nn.functional.cross_entropy(logits[scored], labels[scored])

    train_x, train_y = task.tokens[task.train_idx], task.labels[task.train_idx]
    for step in range(steps):
        if task.sampler is not None:
            xb, yb = task.sampler(step, t.batch_size)
        else:
            rows = minibatch(cfg, len(train_x), step, torch.device("cpu"))
            xb, yb = (train_x, train_y) if rows is None else (train_x[rows], train_y[rows])
        opt.zero_grad(set_to_none=True)
        loss = loss_of(xb, yb)
        loss.backward()
        opt.step()
    with torch.no_grad():  # the test evaluation a user ends with
        loss_of(task.tokens[task.test_idx], task.labels[task.test_idx])
    return loss.item()


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return elapsed


def bench_command(preset: str, steps: int, repeats: int = 2) -> dict[str, float]:
    """Median wall seconds of our command and of the plain loop (each in its own process, interleaved)."""
    get_preset(preset)  # a bad name is one line before anything starts
    ours, plain = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            ours.append(wall([sys.executable, "-m", "grokinterp.train", preset, "--set", f"train.steps={steps}",
                              "--out", os.path.join(tmp, f"run{i}"), "--no-progress"]))
            plain.append(wall([sys.executable, "-m", "grokinterp.bench", "plain-tl", "--preset", preset, "--steps",
                               str(steps)]))
    o, p = statistics.median(ours), statistics.median(plain)
    return {"ours_s": o, "plain_s": p, "speedup": p / o, "threads": torch.get_num_threads()}


def print_command(preset: str, steps: int, r: dict[str, float]) -> None:
    print(f"{preset}, {steps} steps, whole command in its own process (median wall seconds), "
          f"torch threads {r['threads']}")
    print(f"  ours (the train command)        {r['ours_s']:8.1f} s")
    print(f"  plain TransformerLens loop      {r['plain_s']:8.1f} s")
    print(f"plain/ours: {r['speedup']:.2f}x")
