"""`grokinterp import`: checkpoint files of other grokking code (grokinterp.runs.importing).

The files are built here from a model trained by this toolkit, rewritten by hand into each format's names and
shapes; each format's logits are computed by that format's own forward (written out below from its code), and
the imported run must reproduce them."""

from __future__ import annotations

import math
import os
import sys
import types

import einops
import pytest
import torch
import torch.nn.functional as F

from grokinterp import load_run
from grokinterp.cli import main
from grokinterp.runs.importing import LegacyFormatError, nanda_split, read_file
from grokinterp.train import train
from tests.helpers import tiny


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A tiny mod-17 run (60 steps, 4 heads of 8, d_mlp 64) whose checkpoints the legacy files are made of."""
    out = tmp_path_factory.mktemp("legacy") / "src"
    train(tiny(), out, progress=False)
    return load_run(out)


def to_tl(sd: dict) -> dict:
    """A checkpoint in HookedTransformer names and shapes (what HookedTransformer.state_dict() saved)."""
    h = 4
    out = {"embed.W_E": sd["embed.weight"], "pos_embed.W_pos": sd["pos_embed.weight"],
           "unembed.W_U": sd["unembed.weight"].T, "unembed.b_U": sd["unembed.bias"]}
    a, m = "blocks.0.attn", "blocks.0.mlp"
    for x in "qkv":
        out[f"{a}.W_{x.upper()}"] = einops.rearrange(sd[f"{a}.{x}.weight"], "(h d) m -> h m d", h=h)
        out[f"{a}.b_{x.upper()}"] = einops.rearrange(sd[f"{a}.{x}.bias"], "(h d) -> h d", h=h)
    out[f"{a}.W_O"] = einops.rearrange(sd[f"{a}.o.weight"], "m (h d) -> h d m", h=h)
    out[f"{a}.b_O"] = sd[f"{a}.o.bias"]
    out[f"{a}.mask"] = torch.tril(torch.ones(3, 3)).bool()
    out[f"{a}.IGNORE"] = torch.tensor(-1e5)
    out[f"{m}.W_in"], out[f"{m}.b_in"] = sd[f"{m}.in.weight"].T, sd[f"{m}.in.bias"]
    out[f"{m}.W_out"], out[f"{m}.b_out"] = sd[f"{m}.out.weight"].T, sd[f"{m}.out.bias"]
    return {k: v.clone().contiguous() for k, v in out.items()}


def to_nanda(sd: dict) -> dict:
    """A checkpoint in the progress-measures Transformer's names and shapes (no attention or unembed bias)."""
    t = to_tl(sd)
    a, m = "blocks.0.attn", "blocks.0.mlp"
    out = {"embed.W_E": t["embed.W_E"].T, "pos_embed.W_pos": t["pos_embed.W_pos"], "unembed.W_U": t["unembed.W_U"],
           f"{a}.W_O": einops.rearrange(t[f"{a}.W_O"], "i h m -> m (i h)"), f"{a}.mask": torch.tril(torch.ones(3, 3)),
           f"{m}.W_in": t[f"{m}.W_in"].T, f"{m}.b_in": t[f"{m}.b_in"], f"{m}.W_out": t[f"{m}.W_out"].T,
           f"{m}.b_out": t[f"{m}.b_out"]}
    for x in "QKV":
        out[f"{a}.W_{x}"] = t[f"{a}.W_{x}"].transpose(1, 2)
    return {k: v.clone().contiguous() for k, v in out.items()}


def tl_logits(t: dict, tokens: torch.Tensor) -> torch.Tensor:
    """HookedTransformer's forward (1 layer, no LayerNorm, ReLU), from its per-head tensors."""
    a, m = "blocks.0.attn", "blocks.0.mlp"
    x = t["embed.W_E"][tokens] + t["pos_embed.W_pos"][: tokens.shape[1]]
    q = torch.einsum("bpm,hmd->bphd", x, t[f"{a}.W_Q"]) + t[f"{a}.b_Q"]
    k = torch.einsum("bpm,hmd->bphd", x, t[f"{a}.W_K"]) + t[f"{a}.b_K"]
    v = torch.einsum("bpm,hmd->bphd", x, t[f"{a}.W_V"]) + t[f"{a}.b_V"]
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
    n = tokens.shape[1]
    scores = scores.masked_fill(~torch.tril(torch.ones(n, n, dtype=torch.bool)), float("-inf"))
    z = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v)
    x = x + torch.einsum("bqhd,hdm->bqm", z, t[f"{a}.W_O"]) + t[f"{a}.b_O"]
    x = x + F.relu(x @ t[f"{m}.W_in"] + t[f"{m}.b_in"]) @ t[f"{m}.W_out"] + t[f"{m}.b_out"]
    return x @ t["unembed.W_U"] + t["unembed.b_U"]


def nanda_logits(t: dict, tokens: torch.Tensor) -> torch.Tensor:
    """The progress-measures Transformer's forward, as its transformers.py writes it."""
    a, m = "blocks.0.attn", "blocks.0.mlp"
    x = torch.einsum("dbp -> bpd", t["embed.W_E"][:, tokens]) + t["pos_embed.W_pos"][: tokens.shape[1]]
    k = torch.einsum("ihd,bpd->biph", t[f"{a}.W_K"], x)
    q = torch.einsum("ihd,bpd->biph", t[f"{a}.W_Q"], x)
    v = torch.einsum("ihd,bpd->biph", t[f"{a}.W_V"], x)
    pre = torch.einsum("biph,biqh->biqp", k, q)
    mask = t[f"{a}.mask"][: x.shape[-2], : x.shape[-2]]
    attn = F.softmax((torch.tril(pre) - 1e10 * (1 - mask)) / math.sqrt(k.shape[-1]), dim=-1)
    z = einops.rearrange(torch.einsum("biph,biqp->biqh", v, attn), "b i q h -> b q (i h)")
    x = x + torch.einsum("df,bqf->bqd", t[f"{a}.W_O"], z)
    h = F.relu(torch.einsum("md,bpd->bpm", t[f"{m}.W_in"], x) + t[f"{m}.b_in"])
    x = x + torch.einsum("dm,bpm->bpd", t[f"{m}.W_out"], h) + t[f"{m}.b_out"]
    return x @ t["unembed.W_U"]


def imported_logits(run, step: int, tokens: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return run.model(step)(tokens)


def run_import(tmp_path, files, *extra) -> int:
    return main(["import", *map(str, files), "--preset", "mod113", "--out", str(tmp_path / "imported"),
                 *sum((["--set", f"{k}={v}"] for k, v in TINY_MODEL.items()), []), "--no-progress", *extra])


TINY_MODEL = {"task.p": 17, "task.frac_train": 0.5, "model.d_model": 32, "model.n_heads": 4, "model.d_head": 8,
              "model.d_mlp": 64}


def test_bare_tl_state_dict_imports_with_its_logits(source, tmp_path, capsys):
    sd = to_tl(source.state_dict())
    torch.save(sd, tmp_path / "model.pth")
    assert run_import(tmp_path, [tmp_path / "model.pth"], "--step", "60") == 0
    run = load_run(tmp_path / "imported")
    assert run.steps == [60]
    tokens = source.task().tokens
    want = tl_logits(sd, tokens)
    got = imported_logits(run, 60, tokens)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got, imported_logits(source, 60, tokens), atol=1e-5, rtol=1e-5)
    assert "not the split the model was trained on" in capsys.readouterr().out


def test_tl_demo_file_imports_every_checkpoint_split_and_losses(source, tmp_path, capsys):
    """The demo's 113-logit head (no '=' output) gets a '=' logit the softmax never picks."""
    steps = source.steps
    p = 17
    sds = [to_tl(source.state_dict(s)) for s in steps]
    for sd in sds:  # the demo's model has p outputs: drop the '=' row
        sd["unembed.W_U"], sd["unembed.b_U"] = sd["unembed.W_U"][:, :p].contiguous(), sd["unembed.b_U"][:p].clone()
    split = source.store.read_split()
    task = source.task()
    n = max(steps) + 2
    # the demo's own losses of each checkpoint (its formula over p logits): the test loss is logged after an
    # epoch's update (entry e), the train loss before the next (entry e + 1); other entries are never read
    test_losses, train_losses = [99.0] * n, [99.0] * n
    for e, sd in zip(steps, sds):
        for losses, at, idx in ((test_losses, e, split["test_idx"]), (train_losses, e + 1, split["train_idx"])):
            logits = tl_logits(sd, task.tokens[idx])[:, -1].double()
            losses[at] = F.cross_entropy(logits, task.labels[idx, 0]).item()
    metrics = {r["step"]: r for r in source.metrics}
    fake = types.ModuleType("transformer_lens.HookedTransformerConfig")

    class HookedTransformerConfig:  # a stand-in with the demo config's module path, to pickle it
        def __init__(self):
            self.act_fn, self.d_model, self.dtype = "relu", 32, torch.float32

    HookedTransformerConfig.__module__ = fake.__name__
    HookedTransformerConfig.__qualname__ = "HookedTransformerConfig"
    fake.HookedTransformerConfig = HookedTransformerConfig
    sys.modules[fake.__name__] = fake
    try:
        torch.save({"model": sds[-1], "config": HookedTransformerConfig(), "checkpoints": sds,
                    "checkpoint_epochs": steps, "test_losses": test_losses, "train_losses": train_losses,
                    "train_indices": split["train_idx"], "test_indices": split["test_idx"]}, tmp_path / "demo.pth")
    finally:
        del sys.modules[fake.__name__]
    assert read_file(tmp_path / "demo.pth")["config"].get("act_fn") == "relu"  # an inert record of its fields
    assert run_import(tmp_path, [tmp_path / "demo.pth"]) == 0
    out = capsys.readouterr().out
    assert "split: the file" in out and "match the file's own" in out
    run = load_run(tmp_path / "imported")
    assert run.steps == steps
    got_split = run.store.read_split()
    assert torch.equal(got_split["train_idx"], split["train_idx"])
    tokens = source.task().tokens
    for s, sd in zip(steps, sds):
        got = imported_logits(run, s, tokens)
        torch.testing.assert_close(got[..., :p], tl_logits(sd, tokens), atol=1e-5, rtol=1e-5)
        assert (got[..., p] < -1e3).all()
    for row in run.metrics:  # recomputed losses equal the demo's own losses of the same weights
        assert row["source_test_loss"] == pytest.approx(row["test_loss"], rel=1e-5)
        assert row["source_train_loss"] == pytest.approx(row["train_loss"], rel=1e-5)
        assert row["test_acc"] == pytest.approx(metrics[row["step"]]["test_acc"])


def test_nanda_files_import_with_their_split_and_formula(source, tmp_path, capsys):
    """init.pth (its split as (a, b, p) triples), {epoch}.pth files and final.pth, all at once."""
    p, steps = 17, source.steps
    split = source.store.read_split()
    triples = [(int(i) // p, int(i) % p, p) for i in split["train_idx"]]
    test_triples = [(int(i) // p, int(i) % p, p) for i in split["test_idx"]]
    torch.save({"model": to_nanda(source.state_dict(0)), "train_data": triples, "test_data": test_triples},
               tmp_path / "init.pth")
    files = [tmp_path / "init.pth"]
    for s in steps[1:-1]:  # {epoch}.pth holds the weights after update `epoch`
        torch.save({"model": to_nanda(source.state_dict(s)), "train_loss": 0.0, "test_loss": 0.0, "epoch": s},
                   tmp_path / f"{s}.pth")
        files.append(tmp_path / f"{s}.pth")
    last = steps[-1]
    torch.save({"model": to_nanda(source.state_dict(last)), "train_losses": [1.0] * (last + 1),
                "test_losses": [1.0] * (last + 1), "epoch": 50000, "optimizer": {"state": {}, "param_groups": []}},
               tmp_path / "final.pth")
    files.append(tmp_path / "final.pth")
    assert run_import(tmp_path, files) == 0
    run = load_run(tmp_path / "imported")
    assert run.steps == steps
    assert torch.equal(run.store.read_split()["test_idx"], split["test_idx"])
    tokens = source.task().tokens
    for s in steps:
        want = nanda_logits(to_nanda(source.state_dict(s)), tokens)
        torch.testing.assert_close(imported_logits(run, s, tokens), want, atol=1e-5, rtol=1e-5)
    assert run.metrics[-1]["test_acc"] == pytest.approx(source.metrics[-1]["test_acc"])


def test_nanda_full_run_data_gets_his_split_and_his_losses_line_up(source, tmp_path, capsys):
    """full_run_data.pth has no split: Nanda's own is rebuilt from its config's seed and fraction, and his losses
    (both logged before an epoch's update, so entry e + 1 is of the weights saved at epoch e) match ours."""
    p, steps = 17, source.steps
    sds = [to_nanda(source.state_dict(s)) for s in steps]
    train_idx, test_idx = nanda_split(p * p, 0.5, 7)
    task = source.task()
    n = steps[-1] + 2
    train_losses, test_losses = [99.0] * n, [99.0] * n
    for e, sd in zip(steps, sds):
        for losses, idx in ((train_losses, train_idx), (test_losses, test_idx)):
            logits = nanda_logits(sd, task.tokens[idx])[:, -1].double()
            losses[e + 1] = F.cross_entropy(logits, task.labels[idx, 0]).item()
    torch.save({"config": {"seed": 7, "frac_train": 0.5, "p": p, "act_type": "ReLU"}, "model": sds[-1],
                "state_dicts": sds, "epochs": steps, "train_losses": train_losses, "test_losses": test_losses},
               tmp_path / "full_run_data.pth")
    assert run_import(tmp_path, [tmp_path / "full_run_data.pth"]) == 0
    assert "Nanda et al.'s (seed 7, 0.5)" in capsys.readouterr().out
    run = load_run(tmp_path / "imported")
    assert torch.equal(run.store.read_split()["train_idx"], train_idx)
    for row in run.metrics:
        assert row["source_train_loss"] == pytest.approx(row["train_loss"], rel=1e-5)
        assert row["source_test_loss"] == pytest.approx(row["test_loss"], rel=1e-5)
    assert main(["info", str(tmp_path / "imported")]) == 0
    assert "all files match the manifest" in capsys.readouterr().out


def test_nanda_split_is_pythons_shuffle():
    """Nanda et al.'s gen_train_test: random.seed(seed); random.shuffle(pairs); the first int(frac n)."""
    import random

    p = 11
    pairs = [(i, j, p) for i in range(p) for j in range(p)]
    random.seed(3)
    random.shuffle(pairs)
    train, test = nanda_split(p * p, 0.3, 3)
    assert [i * p + j for i, j, _ in pairs[: int(0.3 * p * p)]] == train.tolist()
    assert len(test) == p * p - len(train)


def test_a_pickle_that_runs_code_is_refused_and_nothing_runs(tmp_path, capsys):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    torch.save({"model": Evil()}, tmp_path / "evil.pth")
    assert run_import(tmp_path, [tmp_path / "evil.pth"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "refused" in err and "nothing in it was run" in err
    assert not marker.exists() and not (tmp_path / "imported").exists()
    assert list(tmp_path.glob(".imported.importing-*")) == []


def test_a_file_that_does_not_fit_the_preset_names_the_fix(source, tmp_path, capsys):
    torch.save(to_tl(source.state_dict()), tmp_path / "model.pth")
    code = main(["import", str(tmp_path / "model.pth"), "--preset", "mod113", "--out", str(tmp_path / "x"),
                 "--set", "task.p=17", "--set", "task.frac_train=0.5", "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--set model.d_model=32" in err and "--set model.d_mlp=64" in err and "Traceback" not in err
    with pytest.raises(LegacyFormatError, match="not a readable torch checkpoint"):
        (tmp_path / "junk.pth").write_bytes(b"not a zip")
        read_file(tmp_path / "junk.pth")


def test_an_imported_run_is_not_trained_over(source, tmp_path, capsys):
    torch.save(to_tl(source.state_dict()), tmp_path / "model.pth")
    assert run_import(tmp_path, [tmp_path / "model.pth"], "--step", "60") == 0
    before = (tmp_path / "imported" / "manifest.json").read_text()
    from grokinterp.train import main as train_main

    args = ["mod113", "--out", str(tmp_path / "imported"), "--no-progress"]
    args += sum((["--set", f"{k}={v}"] for k, v in TINY_MODEL.items()), []) + ["--set", "train.steps=60"]
    assert train_main(args) == 2
    assert "no resume point" in capsys.readouterr().err
    assert (tmp_path / "imported" / "manifest.json").read_text() == before
