# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Cosets and irreps in a model that grokked S5 (Power et al. 2022; Chughtai et al. 2023)
#
# Power et al. saw the output-layer rows of an S5 model form clusters that are cosets of a subgroup
# isomorphic to D5. Chughtai et al. found that the model computes products through a few irreducible
# representations (typically sign and the 4-dimensional standard one). This notebook asks both questions
# of your own run. Train one first with `python -m grokinterp.train s5` (about 27 minutes: 1,650 s for its
# 8,000 steps, 99% test accuracy at step 2,770 after 521 s, measured on one torch thread of the 2-core
# development machine, torch 2.13.0 CPU, while other work used the second core; docs/results.md, the `s5`
# section), or set `GROKINTERP_RUN` to another permutation run. Runs as a script or as a notebook (jupytext
# percent).

# %%
import os

import numpy as np
import torch

import grokinterp
from grokinterp import models, progress
from grokinterp.analysis import groups, irreps
from grokinterp.progress.curves import irrep_traces, output_rows, sampled_steps
from grokinterp.report import figures

RUN = os.environ.get("GROKINTERP_RUN", "checkpoints/s5")
SHOW = os.environ.get("GROKINTERP_SHOW", "0") == "1"  # fig.show() opens a browser tab per figure
N_PERMUTATIONS = int(os.environ.get("GROKINTERP_PERMUTATIONS", "999"))

run = grokinterp.load_run(RUN)
t = run.config.task
n = t.n
print(t.describe(), f"{len(run.steps)} checkpoints, last step {run.steps[-1]}")

# %% [markdown]
# ## 1. The group
# Elements are one-line tuples in `itertools.permutations` order (the token ids); products apply the left
# factor first. S_n's subgroups fall into conjugacy classes; each gives a left and a right coset partition.

# %%
subs = groups.subgroups(n)
print(f"S{n}: {len(subs)} subgroups in {len(groups.subgroup_classes(n))} conjugacy classes, "
      f"{len(groups.coset_partitions(n))} non-trivial coset partitions")
for cls in groups.subgroup_classes(n):
    print("  ", cls[0].describe())

# %% [markdown]
# ## 2. Which irreps carry the logits?
# Cosine similarity between the centred logits and each irrep's character cube chi(t c^-1), t the right
# answer; key irreps are those that stand out. The restricted loss keeps only their part of the logits.

# %%
task = run.task()
params = run.state_dict()
with torch.no_grad():
    logits = models.fused_logits(params, run.config.model, task.tokens, (2,))[:, 0, :t.n_answers]
sims = irreps.logit_similarity(logits, task.labels[:, 0], n)
key = irreps.key_irreps(sims, n)
print("logit similarity:", {k: round(v, 3) for k, v in sims.items()})
print("key irreps:", key, f"(explain {irreps.fraction_explained(sims, key):.0%} of the centred logits)")

# %% [markdown]
# ## 3. Irrep content of the embedding and the output layer

# %%
mats = output_rows(params, t.n_answers)
fracs = {name: groups.irrep_fractions(m, n) for name, m in mats.items()}
for name, fr in fracs.items():
    print(name, {k: round(v, 3) for k, v in fr.items()})
fig = figures.irrep_fraction_bars(fracs, "Fraction of each matrix in each irrep (final checkpoint)")
if SHOW:
    fig.show()

# %% [markdown]
# ## 4. Output-layer cosets
# Every non-trivial coset partition is scored by pseudo-F (variance ratios would tie a subgroup with its
# own subgroups), with permutation p-values adjusted for testing them all.

# %%
ranked = groups.coset_clustering(mats["W_U"], n, n_permutations=N_PERMUTATIONS)
for row in ranked[:8]:
    d = row.as_dict()
    print(f"{d['name']:>5} order {d['order']:>3} {d['side']:>5} <{', '.join(d['generators'])}>: "
          f"pseudo-F {d['pseudo_f']:.2f}, p {d['p_value']:.3g}, k-means ARI {d['ari']:.2f}, purity {d['purity']:.2f}")
best = ranked[0]
fig = figures.partition_table([r.as_dict() for r in ranked[:10]], "Best coset partitions of the W_U rows")
if SHOW:
    fig.show()

# %% [markdown]
# Power et al.'s subgroup <(0,3)(1,4), (1,2)(3,4)> is a D5; where does its partition rank here?

# %%
if n == 5:
    d5_rows = [(i, r) for i, r in enumerate(ranked) if r.order == 10]
    i, r = d5_rows[0]
    gens = ", ".join(map(groups.cycle_notation, r.generators))
    print(f"best D5-type partition: rank {i + 1} ({r.side} cosets of <{gens}>), pseudo-F {r.pseudo_f:.2f}, "
          f"p {r.p_value:.3g}")

# %% [markdown]
# The 2-D picture of the paper: t-SNE of the output-layer rows, coloured by the best partition.

# %%
from sklearn.manifold import TSNE  # noqa: E402

xy = TSNE(n_components=2, perplexity=min(30.0, (len(mats["W_U"]) - 1) / 3), init="pca",
          random_state=0).fit_transform(mats["W_U"])
fig = figures.coset_scatter(xy, best.labels(), [groups.cycle_notation(g) for g in groups.elements(n)],
                            f"t-SNE of W_U rows, {best.side} cosets of {best.subgroup.describe()}")
if SHOW:
    fig.show()

# %% [markdown]
# ## 5. Over training: progress measures with key irreps, and irrep fractions

# %%
table = progress.measures(run, key_freqs=key or None)
print("phases:", progress.phases(table).as_dict())
steps = sampled_steps(run, 30)
fr_over, sims_over = irrep_traces(run, steps)
fig = figures.irrep_fraction_lines(steps, {k: fr_over[k] for k in ("W_E", "W_U")})
if SHOW:
    fig.show()
print("final similarity per irrep:", {k: round(float(np.asarray(v)[-1]), 3) for k, v in sims_over.items()})
