# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Phase changes and induction heads (Nanda 2022; Olsson et al. 2022)
#
# A model trained on random tokens with a repeated subsequence first plateaus, then in a short phase change
# forms an induction head (a previous-token head in layer 0 feeding a head in layer 1 that attends to the
# token after the current token's earlier occurrence) and its loss drops. Train one first with
# `python -m grokinterp.train repeat-subseq-infinite` (about 15 minutes on 2 CPU cores) or set
# `GROKINTERP_RUN` to another sequences run. Runs as a script or as a notebook (jupytext percent format).

# %%
import os

import numpy as np
import torch

import grokinterp
from grokinterp import progress
from grokinterp.analysis import induction
from grokinterp.report import figures

RUN = os.environ.get("GROKINTERP_RUN", "checkpoints/repeat-subseq-infinite")
SHOW = os.environ.get("GROKINTERP_SHOW", "0") == "1"  # fig.show() opens a browser tab per figure

run = grokinterp.load_run(RUN)
print(run.config.task.describe(), f"{len(run.steps)} checkpoints, last step {run.steps[-1]}")

# %% [markdown]
# ## 1. Head scores of the final model
# The probe is a block of random tokens written twice. Induction and prefix-matching scores read attention
# from the second copy; the copying score reads the eigenvalues of each head's OV circuit.

# %%
model = run.model()
scores = induction.head_scores(model)
scores["copying"] = induction.copying_scores(model)
for name, s in scores.items():
    print(f"{name:>16}:", np.round(s.numpy(), 2).tolist())

# %% [markdown]
# ## 2. The same scores at every checkpoint, and the phase change

# %%
table = grokinterp.progress.head_scores(run)
changes = progress.phase_changes(run, table)
layer, head = changes.induction_head
print(f"top induction head: L{layer}H{head}")
print("induction score jump:", changes.induction)
print("test-loss drop:      ", changes.total)
print("train-loss bumps:    ", changes.train_bumps)
rows = run.metrics
fig = figures.head_score_lines(table.steps, table["induction"], [r["step"] for r in rows],
                               [r["test_loss"] for r in rows], changes.induction)
if SHOW:
    fig.show()

# %% [markdown]
# ## 3. What the induction head attends to
# An off-diagonal stripe: each token of the second copy looks at the token after its first occurrence.

# %%
L = min(model.cfg.n_ctx // 2, 24)
tokens = induction.repeated_tokens(model.cfg.d_vocab, L, 1, seed=0)
with torch.no_grad():
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n.endswith("attn.hook_pattern"))
fig = figures.attention_pattern(cache[f"blocks.{layer}.attn.hook_pattern"][0, head], f"L{layer}H{head}", tokens[0])
if SHOW:
    fig.show()

# %% [markdown]
# ## 4. Digit addition: one phase change per digit
# For a `digits` run (e.g. `python -m grokinterp.train add5-infinite`), each answer digit has its own
# transition; `progress.phase_changes(run).per_position` lists them.

# %%
if "test_loss_pos" in rows[0]:
    for j, t in enumerate(changes.per_position):
        print(f"digit c{j + 1}:", t)
