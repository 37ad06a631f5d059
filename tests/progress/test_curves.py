"""Curves over a run's checkpoints (grokinterp.progress.curves): Hessian and LLC (seeded alike in every
process), softmax collapse, and the representation of a toy-model run."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grokinterp import progress
from grokinterp.analysis.hessian import hvp
from grokinterp.train import train
from tests.helpers import tiny


def test_hessian_over_a_runs_checkpoints(tmp_path):
    from grokinterp import load_run, progress
    from grokinterp.train import train
    from tests.helpers import tiny

    train(tiny(), tmp_path / "run", progress=False)
    run = load_run(tmp_path / "run")
    step = run.steps[-1]
    loss_fn, trainable = progress.training_loss_fn(run, run.state_dict(step))
    logged = [r["train_loss"] for r in run.metrics if r["step"] == step][0]
    assert math.isclose(float(loss_fn(trainable)), logged, rel_tol=1e-5)  # the loss the run trained on
    assert "blocks.0.attn.q.bias" not in trainable and "blocks.0.mlp.in.bias" in trainable  # frozen ones left out
    table = progress.hessian(run, [0, step], n_samples=8, max_iter=30, progress=False)
    top = table["top_eigenvalue"][-1]
    g = torch.Generator().manual_seed(5)
    for _ in range(3):  # no direction curves more than the top eigenvalue
        v = {k: torch.randn(t.shape, generator=g, dtype=t.dtype) for k, t in trainable.items()}
        hv = hvp(loss_fn, trainable, v)
        rq = float(sum((v[k] * hv[k]).sum() for k in v) / sum((v[k] * v[k]).sum() for k in v))
        assert rq <= top * 1.01
    assert top > 0 and math.isfinite(table["trace"][-1])


def test_llc_over_a_runs_checkpoints(tmp_path):
    from grokinterp import load_run, progress
    from grokinterp.train import train
    from tests.helpers import tiny

    train(tiny(), tmp_path / "run", progress=False)
    run = load_run(tmp_path / "run")
    steps = [0, run.steps[-1]]
    table = progress.llc(run, steps, num_chains=2, num_draws=30, num_burnin=0, batch_size=None, progress=False)
    assert list(table.step) == steps and table.meta["n"] == len(run.task().train_idx)
    assert np.isfinite(table.llc).all() and (table.llc_diverged == 0).all()
    assert table.meta["seconds_per_checkpoint"] > 0
    # the checkpoint's own training loss is where the chains start
    logged = {r["step"]: r["train_loss"] for r in run.metrics}
    assert table.llc_init_loss[-1] == pytest.approx(logged[steps[-1]], rel=1e-4)
    mb = progress.llc(run, steps[-1:], num_chains=2, num_draws=30, num_burnin=0, batch_size=32, progress=False)
    assert mb.meta["batch_size"] == 32 and mb.llc_init_loss[0] == pytest.approx(table.llc_init_loss[-1], rel=1e-6)


SEEDED_MEASURES = """
import sys
from grokinterp import load_run, progress
run = load_run(sys.argv[1])
step = run.steps[-1]
llc = progress.llc(run, [step], seed=0, num_chains=2, num_draws=5, num_burnin=0, progress=False)
hess = progress.hessian(run, [step], n_samples=2, max_iter=3, seed=0, progress=False)
print(repr(float(llc.llc[0])), repr(float(hess.top_eigenvalue[0])), repr(float(hess.trace[0])))
"""


def test_seeded_llc_and_hessian_are_the_same_in_every_process(tmp_path):
    """The chains' noise and the Hessian probes are drawn tensor by tensor: in the model's order, not in the
    order safetensors loads a checkpoint in (which changes from process to process)."""
    import os
    import subprocess
    import sys

    from grokinterp.train import train
    from tests.helpers import tiny

    train(tiny(**{"train.steps": 20, "train.ckpt_every": 20, "train.ckpt_log_points": 0}), tmp_path / "run",
          progress=False)
    procs = [subprocess.Popen([sys.executable, "-c", SEEDED_MEASURES, str(tmp_path / "run")],
                              env={**os.environ, "PYTHONHASHSEED": str(hash_seed), "OMP_NUM_THREADS": "1"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for hash_seed in (1, 2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    first, second = (out.split() for out, _ in outs)
    assert len(first) == 3 and first == second


def test_collapse_over_checkpoints_matches_the_logged_rows(tmp_path):
    from grokinterp import load_run, progress

    cfg = tiny(**{"train.weight_decay": 0.0, "train.lr": 3e-2, "train.steps": 200, "train.ckpt_every": 50})
    train(cfg, tmp_path / "run", progress=False)
    run = load_run(tmp_path / "run")
    table = progress.softmax_collapse(run, progress=False)
    logged = {r["step"]: r["train_softmax_collapse"] for r in run.metrics}
    for step, sc in zip(table["step"], table["softmax_collapse"]):
        assert abs(sc - logged[int(step)]) <= 0.02  # the same measure, from the checkpoint instead of the row
    # no weight decay and a large learning rate: the memorised training set collapses
    assert table["softmax_collapse"][0] == 0 and table["softmax_collapse"][-1] > 0.5
    assert (table["zero_loss_fraction"] <= table["softmax_collapse"] + 1e-12).all()


def test_toy_model_learns_a_linear_representation(tmp_path):
    """Liu et al.'s toy model (embeddings summed, MLP decoder) on x+y, p = 10: the embedding becomes linear
    (RQI -> 1) and test accuracy reaches 100% (the preset, shortened)."""
    from grokinterp import load_run
    from grokinterp.presets import get_preset
    from grokinterp.train import train

    cfg = get_preset("toy-add").with_overrides({"train.steps": 2500, "train.device": "cpu"})
    train(cfg, tmp_path / "toy", progress=False)
    run = load_run(tmp_path / "toy")
    table = progress.representation_table(run, progress=False)
    assert table.rqi[0] < 0.2
    assert table.rqi[-1] > 0.95
    step = table.first_step("rqi", above=0.95)
    assert step is not None and 0 < step <= 2500
    assert run.metrics[-1]["test_acc"] == 1.0
    assert table.effective_loss[-1] < 0.01 * table.effective_loss[0]


def _power_s4_run(tmp_path):
    from grokinterp.presets import get_preset

    cfg = get_preset("power-compose").with_overrides({
        "task.n": 4, "model.d_model": 32, "model.n_heads": 4, "model.d_head": 8, "model.d_mlp": 64,
        "train.steps": 20, "train.ckpt_every": 10, "train.ckpt_log_points": 0, "train.log_every": 10})
    train(cfg, tmp_path / "run", progress=False)
    from grokinterp import load_run

    return load_run(tmp_path / "run")


def test_coset_table_ranks_the_unembedding_rows_of_each_checkpoint(tmp_path):
    from grokinterp.analysis import groups
    from grokinterp.progress.curves import output_rows

    run = _power_s4_run(tmp_path)
    table = progress.coset_table(run)
    assert list(table.steps) == run.steps
    for i, step in enumerate(run.steps):
        direct = groups.coset_summary(output_rows(run.state_dict(step), 24, neuron_logit_map=False)["W_U"], 4)
        assert table["top_subgroup"][i] == direct["top_subgroup"]
        assert table["top_pseudo_f"][i] == pytest.approx(direct["top_pseudo_f"])
    assert "d5_best_rank" not in table.columns  # S4: Power et al.'s D5 is an S5 subgroup
    with pytest.raises(ValueError, match="permutation run"):
        progress.coset_table(load_tiny_modular(tmp_path))


def load_tiny_modular(tmp_path):
    from grokinterp import load_run

    train(tiny(**{"train.steps": 2}), tmp_path / "mod", progress=False)
    return load_run(tmp_path / "mod")


def test_irrep_traces_read_the_answer_position_of_power_equations(tmp_path):
    """In Power et al.'s format `<eos> a op b = c` the answer is read at position 4, not 2 (the operator)."""
    from grokinterp import models
    from grokinterp.analysis import irreps

    run = _power_s4_run(tmp_path)
    step = run.steps[-1]
    _, sims = progress.irrep_traces(run, [step])
    task = run.task()
    logits = models.fused_logits(run.state_dict(step), run.config.model, task.tokens, (4,))[:, 0, :24]
    expected = irreps.logit_similarity(logits, task.labels[:, 0], 4)
    assert {k: float(v[0]) for k, v in sims.items()} == pytest.approx(expected)
