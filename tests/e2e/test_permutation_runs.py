"""Permutation-group tasks end to end: the data layout, training, progress measures with key irreps, and
the report's coset sections, on a small S4 model that groks (the session fixture `permutation_run`)."""

from __future__ import annotations

import math

import pytest
import torch

from grokinterp import progress
from grokinterp.analysis import groups as G
from grokinterp.analysis import irreps
from grokinterp.config import RunConfig
from grokinterp.presets import get_preset
from grokinterp.progress.curves import output_rows
from grokinterp.report import build_report
from grokinterp.tasks import make_task

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("op", ["compose", "conj", "aba"])
@pytest.mark.parametrize("n", [3, 4, 5])
def test_permutation_task_layout(op, n):
    cfg = RunConfig().with_overrides({"task.family": "permutation", "task.op": op, "task.n": n,
                                      "task.frac_train": 0.5}).task
    task = make_task(cfg)
    size = math.factorial(n)
    assert task.tokens.shape == (size * size, 3) and task.d_vocab == task.d_vocab_out == size + 1
    assert bool((task.tokens[:, 2] == size).all())
    els = G.elements(n)
    for i in (0, 7, size * size - 1):
        x, y = els[int(task.tokens[i, 0])], els[int(task.tokens[i, 1])]
        want = {"compose": G.compose(x, y), "conj": G.compose(G.compose(x, y), G.inverse(x)),
                "aba": G.compose(G.compose(x, y), x)}[op]
        assert els[int(task.labels[i, 0])] == want
        assert int(task.tokens[i, 0]) * size + int(task.tokens[i, 1]) == i
    assert len(task.train_idx) == int(0.5 * size * size)
    assert cfg.describe().endswith(f"in S{n}") and cfg.n_answers == size


def test_s5_preset_is_power_et_al_s5_composition():
    cfg = get_preset("s5")
    assert (cfg.task.family, cfg.task.op, cfg.task.n) == ("permutation", "compose", 5)
    task = make_task(cfg.task)
    assert task.tokens.shape == (14400, 3) and task.d_vocab == 121


def test_progress_measures_on_a_permutation_run(permutation_run):
    table = progress.measures(permutation_run, progress=False)
    assert table.family == "permutation" and table.p == 24
    assert list(table.steps) == permutation_run.steps
    assert set(table.key_freqs) <= {G.irrep_name(lam) for lam in G.partitions(4)} - {"trivial"}
    logged = {r["step"]: r for r in permutation_run.metrics}
    for i, step in enumerate(table.steps):
        assert table["test_loss"][i] == pytest.approx(logged[int(step)]["test_loss"], rel=1e-5)
    # the vectorised measures equal those computed from the hooked TL model's logits
    task = permutation_run.task()
    step = permutation_run.steps[-1]
    with torch.no_grad():
        logits = permutation_run.model(step)(task.tokens)[:, -1]
    basis = progress.basis_for(permutation_run.config, ["standard", "sign"])
    row = progress.measures_from_logits(logits, permutation_run.state_dict(step), task.labels[:, 0], task.train_idx,
                                         task.test_idx, basis)
    again = progress.measures(permutation_run, [step], ["standard", "sign"], progress=False)
    for col, value in row.items():
        assert again[col][0] == pytest.approx(value, rel=1e-4, abs=1e-6), col
    assert 0 <= again["gini_W_E"][0] <= 1


def test_report_has_the_coset_sections(permutation_run, tmp_path):
    out = build_report(permutation_run.path, tmp_path / "r.html", progress=False)
    page = out.read_text()
    last = permutation_run.steps[-1]
    for heading in ("Training curves", "Progress measures and irreps", f"Output-layer cosets at step {last}",
                    "Best coset partitions of the W_U rows", "t-SNE of the unembedding rows"):
        assert heading in page
    assert page.count("Plotly.newPlot") >= 8


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
