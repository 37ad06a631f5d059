# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Accelerating grokking: Grokfast, GrokTransfer, Omnigrok
#
# Three ways to change when (or whether) a model groks, all switched on from the command line:
#
# ```
# python -m grokinterp.train mod113 --out checkpoints/grokfast --set accel.grokfast=ema   # Grokfast (Lee et al. 2024)
# python -m grokinterp.train mod113 --out checkpoints/weak --set model.arch=mlp --set model.d_model=4 \
#     --set model.d_mlp=64 --set train.lr=0.003 --set train.grok_threshold=0.6 --stop-when-grokked
# python -m grokinterp.train mod113 --out checkpoints/transfer --set accel.transfer_from=checkpoints/weak
# python -m grokinterp.train mod113 --out checkpoints/init3 --set accel.init_scale=3      # Omnigrok's alpha
# python -m grokinterp.bench grok                                             # all of them, timed
# ```
#
# Each run has its own `--out`: `checkpoints/mod113` holds the plain preset's run (the README's first
# command), and a run directory holding another config is refused. Set `GROKINTERP_RUN` to the run to read:
# `checkpoints/transfer` (the default; it reads its weak run from `checkpoints/weak`), `checkpoints/grokfast`
# or `checkpoints/init3`, e.g. `GROKINTERP_RUN=checkpoints/grokfast python analyses/04_accelerating_grokking.py`.
# Runs as a script or as a notebook (jupytext percent format).

# %%
import os

import numpy as np

import grokinterp
from grokinterp.report import figures

RUN = os.environ.get("GROKINTERP_RUN", "checkpoints/transfer")
SHOW = os.environ.get("GROKINTERP_SHOW", "0") == "1"  # fig.show() opens a browser tab per figure

run = grokinterp.load_run(RUN)
a = run.config.accel
print(run.config.task.describe(), "| accel:", a)

# %% [markdown]
# ## 1. Time to generalise
# The first logged steps at which the train and the test accuracy reach 99%: grokking is the gap.

# %%
rows = run.metrics
first = {k: next((r["step"] for r in rows if r[k] >= 0.99), None) for k in ("train_acc", "test_acc")}
print("train >= 99% at", first["train_acc"], "| test >= 99% at", first["test_acc"])
fig = figures.loss_curves([r["step"] for r in rows], [r["train_loss"] for r in rows], [r["test_loss"] for r in rows],
                          [r["train_acc"] for r in rows], [r["test_acc"] for r in rows])
if SHOW:
    fig.show()

# %% [markdown]
# ## 2. The weight norm (Omnigrok's LU picture)
# Memorising solutions sit at large weight norm; weight decay walks the model down to the generalising one.

# %%
fig = figures.weight_norm_trajectory([r["weight_norm"] for r in rows], [r["test_loss"] for r in rows],
                                     [r["step"] for r in rows], [r["train_loss"] for r in rows])
if SHOW:
    fig.show()

# %% [markdown]
# ## 3. GrokTransfer: the weak model's embedding, and what the target did with it

# %%
if a.transfer_from:
    weak = grokinterp.load_run(a.transfer_from)
    step = int(run.store.checkpoint_metadata(run.steps[0])["transfer_step"])
    A = weak.state_dict(step)["embed.weight"]
    n = run.config.task.n_answers
    print(f"weak run {a.transfer_from}: embedding {tuple(A.shape)} taken at step {step}")
    fig = figures.embedding_pca(A[:n], n_components=min(4, A.shape[1]), title="Weak model's embedding (PCA)")
    if SHOW:
        fig.show()
    final = run.state_dict()["embed.weight"].double()
    # how much of the target's final embedding still lies in the column space of the transferred A
    q, _ = np.linalg.qr(A.double().numpy())
    inside = np.linalg.norm(q.T @ final.numpy()) ** 2 / np.linalg.norm(final.numpy()) ** 2
    print(f"share of the final embedding in span(A): {inside:.1%}")
