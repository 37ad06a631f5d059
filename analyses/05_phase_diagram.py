# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Effective theory and phase diagrams (Liu et al. 2022; Omnigrok)
#
# Liu et al.'s toy model sums two learned embeddings and decodes the sum with an MLP: whether it generalises
# can be read off the embedding (is it a line?), and how fast depends on how much data pins that line down
# and on how fast the decoder learns compared with the representation.
#
# ```
# python -m grokinterp.train toy-add --out checkpoints/toy-add          # one run
# grokinterp sweep configs/sweeps/phase-diagram.toml --out checkpoints/phase-diagram   # decoder lr x decoder wd, 5 x 5
# grokinterp report checkpoints/phase-diagram                            # the phase diagram
# ```
#
# Set `GROKINTERP_RUN` to a toy-add run (default `checkpoints/toy-add`) and `GROKINTERP_SWEEP` to a sweep
# directory (default `checkpoints/phase-diagram`; skipped when absent). Runs as a script or as a notebook.

# %%
import os
from pathlib import Path

import plotly.graph_objects as go
import torch

import grokinterp
from grokinterp.analysis import representation as R
from grokinterp.analysis.regimes import regime_of
from grokinterp.report import figures

RUN = os.environ.get("GROKINTERP_RUN", "checkpoints/toy-add")
SWEEP = os.environ.get("GROKINTERP_SWEEP", "checkpoints/phase-diagram")
SHOW = os.environ.get("GROKINTERP_SHOW", "0") == "1"  # fig.show() opens a browser tab per figure

run = grokinterp.load_run(RUN)
print(run.config.task.describe(), "|", run.config.model.arch, "| steps", run.steps[-1])

# %% [markdown]
# ## 1. Training curves and the phase of this run
# Table 1 of the paper: comprehension, grokking, memorization or confusion, from the first steps at which
# train and test accuracy pass 90%.

# %%
rows = run.metrics
steps = [r["step"] for r in rows]
result = regime_of([r["train_acc"] for r in rows], [r["test_acc"] for r in rows], steps)
print(f"regime: {result.regime} (train >= 90% at {result.train_step}, test >= 90% at {result.test_step})")
fig = figures.loss_curves(steps, [r["train_loss"] for r in rows], [r["test_loss"] for r in rows],
                          [r["train_acc"] for r in rows], [r["test_acc"] for r in rows])
if SHOW:
    fig.show()

# %% [markdown]
# ## 2. The representation over training
# RQI: the share of parallelograms (i + j = m + l) that the embedding closes; the effective loss on the
# training parallelograms; the PCA effective dimension. Generalisation follows the RQI.

# %%
table = grokinterp.progress.representation_table(run, progress=False)
print("RQI > 0.95 from step", table.first_step("rqi", above=0.95), "| final RQI", round(table.rqi[-1], 3))
fig = go.Figure()
fig.add_scatter(x=table.steps, y=table.rqi, name="RQI")
fig.add_scatter(x=table.steps, y=[r["test_acc"] for r in rows if r["step"] in set(table.steps)], name="test accuracy")
fig.add_scatter(x=table.steps, y=table.effective_loss, name="effective loss", yaxis="y2")
fig.update_layout(title="Representation quality over training", xaxis_title="step",
                  yaxis2=dict(overlaying="y", side="right", type="log", title="effective loss"))
if SHOW:
    fig.show()

# %%
E = run.state_dict()["embed.weight"][: run.config.task.p]
E0 = run.state_dict(run.steps[0])["embed.weight"][: run.config.task.p]
fig = go.Figure()
for name, emb in (("initial", E0), ("final", E)):
    pc = emb - emb.mean(0)
    x = pc @ torch.linalg.svd(pc, full_matrices=False).Vh[0] if emb.shape[1] > 1 else pc[:, 0]
    fig.add_scatter(x=list(range(len(x))), y=x.tolist(), mode="markers+lines", name=name)
fig.update_layout(title="Embedding of each symbol (first principal component)", xaxis_title="symbol",
                  yaxis_title="position")
if SHOW:
    fig.show()

# %% [markdown]
# ## 3. Effective theory: how much data makes the line unique
# The effective loss is quadratic in the embedding; its Hessian always has two zero eigenvalues (shift and
# scale of a line). Its third eigenvalue, the grokking rate, is zero below a critical training fraction
# (about 0.4 for p = 10 in the paper) and grows with more data.

# %%
p = run.config.task.p
pairs = R.all_pairs(p)
fractions = [0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0]
rates = []
for frac in fractions:
    per_seed = []
    for seed in range(5):
        idx = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))[: int(frac * len(pairs))]
        per_seed.append(R.effective_theory(pairs[idx], p).grokking_rate)
    rates.append(sum(per_seed) / len(per_seed))
    print(f"train fraction {frac:.1f}: mean grokking rate lambda3 = {rates[-1]:.4f}")
fig = go.Figure(go.Scatter(x=fractions, y=rates, mode="markers+lines"))
fig.update_layout(title="Grokking rate vs training fraction (5 random splits each)", xaxis_title="training fraction",
                  yaxis_title="lambda3")
if SHOW:
    fig.show()

# %% [markdown]
# ## 4. The phase diagram of a sweep
# Each cell a run of the sweep, coloured by its phase (the same figure as `grokinterp report SWEEP_DIR`).

# %%
if (Path(SWEEP) / "sweep.json").exists():
    from grokinterp.report.sweep import regime_diagram
    from grokinterp.sweep import load_sweep
    from grokinterp.sweep.regimes import regime_grid, sweep_regimes

    sweep = load_sweep(SWEEP)
    runs, _ = sweep_regimes(sweep)
    axes = list(sweep.spec.grid)
    if len(axes) == 2:
        grid = regime_grid(runs, axes[0], sweep.spec.grid[axes[0]], axes[1], sweep.spec.grid[axes[1]])
        for label in sorted({r.label for r in runs}):
            print(f"{label}: {sum(r.label == label for r in runs)} runs")
        fig = regime_diagram(grid)
        if SHOW:
            fig.show()
else:
    print(f"no sweep at {SWEEP}: run `grokinterp sweep configs/sweeps/phase-diagram.toml --out {SWEEP}` first")
