"""End to end: a small 2-layer attention-only model trained on fresh repeated-subsequence batches forms an
induction head in a phase change that coincides with its loss drop; a 1-layer model trained the same way
forms none and its loss does not drop."""

from __future__ import annotations

import pytest

from grokinterp import load_run, progress
from grokinterp.analysis import induction
from grokinterp.config import RunConfig
from grokinterp.train import train

TINY_REPEAT = {
    "task.family": "sequences", "task.op": "repeat", "task.mode": "infinite", "task.seq_len": 24,
    "task.subseq_len": 6, "task.n_repeats": 2, "task.vocab": 24, "task.n_test": 128,
    "model.attn_only": True, "model.d_model": 32, "model.n_heads": 2, "model.d_head": 16, "model.biases": "none",
    "train.batch_size": 32, "train.lr": 3e-3, "train.weight_decay": 0.1, "train.betas": [0.9, 0.999],
    "train.steps": 500, "train.ckpt_every": 25, "train.ckpt_log_points": 0, "train.log_every": 5,
    "train.device": "cpu",
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for n_layers in (2, 1):
        path = tmp_path_factory.mktemp(f"repeat{n_layers}") / "run"
        train(RunConfig().with_overrides({**TINY_REPEAT, "model.n_layers": n_layers}), path, progress=False)
        run = load_run(path)
        table = induction.scores_over_training(run, progress=False)
        out[n_layers] = (run, table, progress.phase_changes(run, table))
    return out


def test_two_layers_form_an_induction_head_in_a_phase_change(runs):
    run, table, changes = runs[2]
    layer, head = changes.induction_head
    assert layer == 1 and table["induction"][-1, layer, head] > 0.5
    assert table["induction"][0].max() < 0.15  # absent at initialisation
    assert table["previous_token"][-1, 0].max() > 0.3 > table["previous_token"][0, 0].max()  # layer-0 half
    assert changes.induction is not None and changes.total is not None
    assert abs(changes.induction.step - changes.total.step) <= 50  # the jump coincides with the loss drop
    assert changes.total.after < 0.5 * changes.total.before
    assert 100 < changes.induction.step < 500  # a plateau first, then the change
    rows = table.rows()
    assert {"step", "layer", "head", "induction", "copying"} <= set(next(iter(rows)))


def test_one_layer_forms_no_induction_head(runs):
    run, table, changes = runs[1]
    assert table["induction"].max() < 0.2
    assert changes.total is None and run.metrics[-1]["test_loss"] > 2.0
