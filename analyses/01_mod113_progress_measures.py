# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Progress measures on a modular-addition run (Nanda et al. 2023)
#
# A guided walk through the paper's analysis on your own run. Train one first with
# `python -m grokinterp.train mod113`, or set `GROKINTERP_RUN` to another run directory. Runs as a script
# (`python analyses/01_mod113_progress_measures.py`) or as a notebook (jupytext percent format).

# %%
import os

import torch

import grokinterp
from grokinterp.analysis import fourier
from grokinterp.report import figures

RUN = os.environ.get("GROKINTERP_RUN", "checkpoints/mod113")
SHOW = os.environ.get("GROKINTERP_SHOW", "0") == "1"  # fig.show() opens a browser tab per figure

run = grokinterp.load_run(RUN)
p = run.config.task.p
print(run.config.task, f"{len(run.steps)} checkpoints, last step {run.steps[-1]}")

# %% [markdown]
# ## 1. Grokking: train loss falls long before test loss

# %%
rows = run.metrics
fig = figures.loss_curves([r["step"] for r in rows], [r["train_loss"] for r in rows],
                          [r["test_loss"] for r in rows], [r["train_acc"] for r in rows],
                          [r["test_acc"] for r in rows])
if SHOW:
    fig.show()

# %% [markdown]
# ## 2. The embedding is sparse in the Fourier basis
# Row 0 of the basis is constant, then cos k / sin k for k = 1..(p-1)/2. The key frequencies are those
# whose norm in W_E is at least a quarter of the largest.

# %%
final = run.state_dict()
W_E, W_L = fourier.weights_from_state(final, p)
key_freqs = fourier.key_frequencies(W_E, p)
print("key frequencies:", key_freqs)
fig = figures.fourier_norms(fourier.component_norms(W_E), fourier.fourier_labels(p), "W_E per Fourier component")
if SHOW:
    fig.show()

# %% [markdown]
# ## 3. Neurons cluster by frequency

# %%
model = run.model()
task = run.task()
with torch.no_grad():
    _, cache = model.run_with_cache(task.tokens, names_filter=lambda n: n == "blocks.0.mlp.hook_post")
acts = cache["blocks.0.mlp.hook_post"][:, -1]
clusters = fourier.cluster_neurons(acts, p)
print("neurons per frequency (-1 = unclustered):", clusters.sizes())

# %% [markdown]
# ## 4. Progress measures over every checkpoint
# Restricted loss (only the key trig terms kept) falls long before the test loss; excluded loss (key terms
# removed) rises while the train loss stays tiny; the Gini of the Fourier norms rises; weight decay shrinks
# the weights during cleanup.

# %%
table = grokinterp.progress.measures(run, key_freqs=key_freqs)
phases = grokinterp.progress.phases(table)
print(phases.as_dict())
fig = figures.progress_measures(table.to_dict(), phases.as_dict())
if SHOW:
    fig.show()
last = len(table) - 1
print(f"final: test loss {table['test_loss'][last]:.3g}, restricted {table['restricted_loss'][last]:.3g}, "
      f"excluded {table['excluded_loss'][last]:.3g}, Gini W_E {table['gini_W_E'][last]:.2f}")
