"""End to end: a small 2-layer attention-only model trained on fresh repeated-subsequence batches forms an
induction head in a phase change that coincides with its loss drop; a 1-layer model trained the same way
forms none and its loss does not drop."""

from __future__ import annotations

import pytest

from grokinterp import load_run, progress
from grokinterp.config import RunConfig
from grokinterp.train import train
from tests.helpers import TINY_REPEAT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def runs(tmp_path_factory, sequence_run):
    path = tmp_path_factory.mktemp("repeat1") / "run"
    train(RunConfig().with_overrides({**TINY_REPEAT, "model.n_layers": 1}), path, progress=False)
    out = {}
    for n_layers, run in ((2, sequence_run), (1, load_run(path))):
        table = progress.head_scores(run, progress=False)
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
    assert 0 < changes.induction.start <= changes.induction.step < run.steps[-1]  # a plateau first, then the change
    rows = table.rows()
    assert {"step", "layer", "head", "induction", "copying"} <= set(next(iter(rows)))


def test_one_layer_forms_no_induction_head(runs):
    run, table, changes = runs[1]
    assert table["induction"].max() < 0.2
    assert changes.total is None and run.metrics[-1]["test_loss"] > 2.0
