"""Permutation-group tasks end to end: a small S4 model that groks (the session fixture `permutation_run`)
through a faithful irrep, with a significant coset partition of its output layer."""

from __future__ import annotations

import math

import pytest
import torch

from grokinterp import progress
from grokinterp.analysis import groups as G
from grokinterp.analysis import irreps
from grokinterp.progress.curves import output_rows

pytestmark = pytest.mark.e2e


def test_s4_model_groks_through_a_faithful_irrep_and_matching_cosets(permutation_run):
    """End to end: S4 composition memorises first, generalises ~40x later, and the final logits are carried
    by a few irreps, at least one of them faithful; the best coset partition of the output layer is
    significant and its subgroup's coset functions live in the key irreps."""
    run = permutation_run
    rows = run.metrics
    memorised = next(r["step"] for r in rows if r["train_acc"] >= 0.99)
    grokked = next(r["step"] for r in rows if r["test_acc"] >= 0.99)
    assert memorised <= 200 and grokked >= 10 * memorised and rows[-1]["test_acc"] >= 0.99
    table = progress.measures(run, progress=False)
    key = set(table.key_freqs)
    faithful = {G.irrep_name(lam) for lam in G.partitions(4)
                if all(G.character(lam, mu) < G.irrep_dim(lam) for mu in G.partitions(4)[:-1])}
    assert faithful == {"standard", "standard_sign"}
    assert key & faithful and len(key) <= 3
    task = run.task()
    sims = {}
    for step in (0, run.steps[-1]):
        with torch.no_grad():
            logits = run.model(step)(task.tokens)[:, -1, :24]
        sims[step] = irreps.fraction_explained(irreps.logit_similarity(logits, task.labels[:, 0], 4), key)
    assert sims[0] < 0.05 < 0.3 < sims[run.steps[-1]]
    assert table["gini_W_L"][-1] > 5 * table["gini_W_L"][0]
    # without the key irreps the train pairs fail: far above the loss of a uniform guess (ln 24); the exact value
    # moves with float rounding across CPUs (8.4 on one machine, above 9.5 on another)
    assert table["excluded_loss"][-1] > 2 * math.log(24)
    best = G.coset_clustering(output_rows(run.state_dict(), 24)["W_U"], 4, n_permutations=199)[0]
    assert best.p_value < 0.01
    assert set(G.induced_trivial(best.subgroup, 4)) - {"trivial"} <= key
