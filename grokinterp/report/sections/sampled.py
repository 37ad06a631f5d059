"""Report sections for the phase-change tasks (Nanda 2022; Olsson et al. 2022): k-digit addition (per-digit
loss curves with each digit's detected transition), repeated subsequences (induction and other head scores
per head over training against the loss, the top induction head's attention on a repeated sequence) and the
max-element task (each head's attention on the largest token over training)."""

from __future__ import annotations

import numpy as np
import torch

from grokinterp import progress
from grokinterp.analysis import argmax, induction
from grokinterp.models import load_tensors_
from grokinterp.progress.curves import sampled_steps
from grokinterp.report import figures
from grokinterp.report.html import Section
from grokinterp.report.sections.common import training_curves
from grokinterp.report.sections.registry import ReportContext, register

for _family in ("digits", "sequences"):
    register(_family)(training_curves)


def _fmt(t) -> str:
    return "none" if t is None else f"step {t.step} (from {t.start} to {t.end})"


@register("digits")
def per_digit_losses(ctx: ReportContext) -> list[Section]:
    rows = ctx.run.metrics
    if not rows or "test_loss_pos" not in rows[0]:
        return []
    changes = progress.phase_changes(ctx.run)
    k = len(rows[0]["test_loss_pos"])
    names = [f"c{j + 1}" for j in range(k)]
    losses = np.array([r["test_loss_pos"] for r in rows])
    text = (f"Answer digits c1 (the carry-out, most significant) to c{k}. Detected transitions (steepest drop of "
            "each digit's test loss): " + "; ".join(f"{n}: {_fmt(t)}" for n, t in zip(names, changes.per_position))
            + ". Bumps on the train loss: " + (", ".join(f"step {b.peak}" for b in changes.train_bumps) or "none")
            + ".")
    return [Section("Per-digit loss", [figures.per_position_losses([r["step"] for r in rows], losses, names,
                                                                  changes.per_position)], text)]


@register("sequences")
def head_scores_over_training(ctx: ReportContext) -> list[Section]:
    run = ctx.run
    if run.config.task.op != "repeat":
        return []
    ctx.progress("head scores over training")
    table = progress.head_scores(run, progress=False)
    ctx.cache["head_scores"] = table
    changes = progress.phase_changes(run, table)
    rows = run.metrics
    layer, head = changes.induction_head
    text = (f"Scores on a probe of random tokens repeated twice (grokinterp.analysis.induction). Top induction "
            f"head L{layer}H{head}; its score jumps at {_fmt(changes.induction)}; the test loss drops at "
            f"{_fmt(changes.total)}. Bumps on the train loss: "
            + (", ".join(f"step {b.peak}" for b in changes.train_bumps) or "none") + ".")
    loss_steps, loss = [r["step"] for r in rows], [r["test_loss"] for r in rows]
    figs = [figures.head_score_lines(table.steps, table["induction"], loss_steps, loss, changes.induction)]
    for name in ("prefix_matching", "previous_token", "duplicate_token", "copying"):
        figs.append(figures.head_score_lines(table.steps, table[name],
                                             title=f"{name.replace('_', ' ')} score per head"))
    return [Section("Heads over training", figs, text)]


@register("sequences")
def top_head_attention(ctx: ReportContext) -> list[Section]:
    run = ctx.run
    if run.config.task.op != "repeat":
        return []
    table = ctx.cache.get("head_scores") or progress.head_scores(run, progress=False)
    layer, head = induction.top_head(table["induction"][-1])
    sections = []
    for step in ctx.steps:
        model = run.model(step)
        L = min(model.cfg.n_ctx // 2, 24)
        tokens = induction.repeated_tokens(model.cfg.d_vocab, L, 1, seed=0)
        with torch.no_grad():
            _, cache = model.run_with_cache(tokens, names_filter=lambda n: n.endswith("attn.hook_pattern"))
        pattern = cache[f"blocks.{layer}.attn.hook_pattern"][0, head]
        figs = [figures.attention_pattern(pattern, f"L{layer}H{head} at step {step} on a sequence repeated twice",
                                          tokens[0])]
        if layer > 0:
            prev = int(np.argmax(table["previous_token"][-1][layer - 1]))
            figs.append(figures.attention_pattern(cache[f"blocks.{layer - 1}.attn.hook_pattern"][0, prev],
                                                  f"L{layer - 1}H{prev} (best previous-token head) at step {step}",
                                                  tokens[0]))
        sections.append(Section(f"Top induction head at step {step}", figs,
                                "An induction head attends from each token of the second copy to the token after "
                                "its first occurrence: the off-diagonal stripe."))
    return sections


@register("sequences")
def max_heads_over_training(ctx: ReportContext) -> list[Section]:
    run = ctx.run
    t = run.config.task
    if t.op != "max":
        return []
    ctx.progress("attention on the largest token")
    task = run.task()
    tokens = task.tokens[task.test_idx[:512]]
    query, n = task.answer_pos[0], t.seq_len
    steps = sampled_steps(run)
    model = run.model(steps[0])
    scores = []
    with torch.no_grad():
        for step in steps:
            load_tensors_(model, run.state_dict(step))
            _, cache = model.run_with_cache(tokens, names_filter=lambda name: name.endswith("hook_pattern"))
            layers = sorted(k for k in cache.keys() if k.endswith("attn.hook_pattern"))
            scores.append(torch.stack([argmax.max_attention(cache[k], tokens, query, n) for k in layers]).numpy())
    scores = np.stack(scores)  # (steps, layers, heads)
    rows = run.metrics
    layer, head = np.unravel_index(int(np.argmax(scores[-1])), scores.shape[1:])
    chance = argmax.uniform_max_attention(tokens, query, n)
    text = (f"The attention that the answer position ('=') pays to the positions holding the maximum, averaged over "
            f"{len(tokens)} test sequences (grokinterp.analysis.argmax; uniform attention gives {chance:.2f}). At the "
            f"last checkpoint L{layer}H{head} puts {scores[-1, layer, head]:.2f} of its attention there.")
    fig = figures.head_score_lines(steps, scores, [r["step"] for r in rows], [r["test_loss"] for r in rows],
                                   title="Attention on the largest token per head over training")
    return [Section("Heads that find the maximum", [fig], text)]
