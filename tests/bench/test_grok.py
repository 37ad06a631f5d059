"""`python -m grokinterp.bench grok` (grokinterp.bench.grok): the tuned baseline, the methods, their
combinations and the table."""

from __future__ import annotations

from grokinterp.runs.run import load_run


def test_bench_grok_tunes_the_baseline_counts_the_weak_run_and_combines_the_two_fastest(tmp_path, capsys):
    from grokinterp.bench import cli as bench
    from grokinterp.bench.grok import bench_grok

    r = bench_grok("mod113-small", max_steps=20, thresholds=(0.01, 0.02), seeds=2, lrs=[1e-3], wds=(1.0, 3.0),
                   only=["groktransfer", "ortho-adamw", "stablemax"], transfer_acc=0.01, out=str(tmp_path),
                   progress=False, log=lambda line: None)
    assert [s.variant.name for s in r["grid"]] == ["adamw lr 0.001 wd 1", "adamw lr 0.001 wd 3"]
    assert r["baseline"] in r["grid"] and len(r["baseline"].trials) in (1, 2)
    assert [s.variant.name for s in r["singles"]] == ["stablemax", "ortho-adamw", "groktransfer"]
    wd = r["baseline"].variant.overrides["train.weight_decay"]
    ortho = load_run(tmp_path / "ortho-adamw.seed0").config
    assert ortho.accel.orthogonal_grad and ortho.train.weight_decay == 0.0 and ortho.model.seed == 0
    assert load_run(tmp_path / "stablemax.seed1").config.train.weight_decay == wd
    transfer = next(s for s in r["singles"] if s.variant.name == "groktransfer").trials[0]
    assert transfer.weak_s > 0 and transfer.total_s[0.02] >= transfer.weak_s  # the weak run is counted
    weak_dir = str(tmp_path / "groktransfer.seed0.weak")
    assert load_run(tmp_path / "groktransfer.seed0").config.accel.transfer_from == weak_dir
    assert len(r["combos"]) == 1 and " + " in r["combos"][0].variant.name
    # the methods run at the tuned baseline's lr; ⊥AdamW also at the preset's own lr and weight decay 0
    from grokinterp.bench.grok import PLAIN, method_variants

    tuned = {**PLAIN, "train.lr": 3e-3, "train.weight_decay": 8.0}
    names = {v.name: v for v in method_variants(tuned, False, {}, 0.6, preset_lr=1e-3)}
    assert names["ortho-adamw lr 0.001"].overrides["train.lr"] == 1e-3
    assert names["ortho-adamw lr 0.001"].overrides["train.weight_decay"] == 0.0
    assert names["muon"].overrides["train.lr"] == 3e-3 and "groktransfer" not in names
    assert "ortho-adamw lr 0.003" not in {v.name for v in method_variants(tuned, True, {}, 0.6, preset_lr=3e-3)}
    from grokinterp.bench.grok import combine

    both = combine(names["stablemax"], names["grokfast-ema"], tuned).overrides  # each keeps its own method
    assert both["train.loss"] == "stablemax" and both["accel.grokfast"] == "ema" and both["train.lr"] == 3e-3
    both = combine(names["ortho-adamw"], names["muon"], tuned).overrides
    assert both["train.weight_decay"] == 0.0 and both["train.optimizer"] == "muon" and both["accel.orthogonal_grad"]
    argv = ["grok", "--preset", "mod113-small", "--max-steps", "10", "--thresholds", "0.01", "--seeds", "1",
            "--lrs", "1e-3", "--wds", "1", "--only", "ortho-adamw", "--out", str(tmp_path / "cli")]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("adamw lr 0.001 wd 1* ") for line in out)
    assert any(line.startswith("ortho-adamw ") for line in out)
    assert out[-1].startswith("best/baseline wall-time speedup: ") and out[-1].endswith("x")
    assert bench.main(["grok", "--grokfast", "alpha"]) == 2
    assert bench.main(["grok", "--thresholds", "1.5"]) == 2
    assert bench.main(["grok", "--preset", "nope"]) == 2


def test_bench_grok_tune_methods_gives_every_method_the_baselines_grid(tmp_path, capsys):
    from grokinterp.bench import cli as bench
    from grokinterp.bench.grok import PLAIN, Variant, method_grid

    base = {**PLAIN, "train.lr": 1e-3, "train.weight_decay": 3.0}
    ortho = Variant("ortho-adamw", {**base, "accel.orthogonal_grad": True, "train.weight_decay": 0.0})
    grid = method_grid(ortho, base, [1e-3, 3e-3], [1.0, 3.0])  # ⊥AdamW pins weight decay 0: only the lr is tuned
    assert [v.name for v in grid] == ["ortho-adamw lr 0.001 wd 0", "ortho-adamw lr 0.003 wd 0"]
    assert all(v.overrides["accel.orthogonal_grad"] and v.overrides["train.weight_decay"] == 0.0 for v in grid)
    ema = Variant("grokfast-ema", {**base, "accel.grokfast": "ema"})
    points = [(v.overrides["train.lr"], v.overrides["train.weight_decay"]) for v in method_grid(ema, base, [1e-3, 3e-3],
                                                                                                [1.0, 3.0])]
    assert points == [(1e-3, 1.0), (1e-3, 3.0), (3e-3, 1.0), (3e-3, 3.0)]
    argv = ["grok", "--preset", "mod113-small", "--max-steps", "6", "--thresholds", "0.01", "--seeds", "2",
            "--lrs", "1e-3,3e-3", "--wds", "1", "--only", "stablemax,ortho-adamw", "--tune-methods",
            "--out", str(tmp_path)]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    rows = {line.split("  ")[0]: line for line in out}
    # each method ran at both lrs on seed 0; its fastest is its row and ran on both seeds
    for method, wd in (("stablemax", 1), ("ortho-adamw", 0)):
        assert {(tmp_path / f"{method}_lr_{lr}_wd_{wd}.seed0").exists() for lr in ("0.001", "0.003")} == {True}
        chosen = [name for name in rows if name.startswith(f"{method} lr ") and (tmp_path / (
            name.replace(" ", "_") + ".seed1")).exists()]
        assert len(chosen) == 1
    singles = [name for name in rows if " + " not in name]  # the combination's name holds both methods'
    assert not any(name.startswith("ortho-adamw lr") and name.endswith("wd 1") for name in singles)
    assert out[-1].startswith("best/baseline wall-time speedup: ")


def test_bench_grok_table_says_when_a_median_is_over_seeds_that_did_not_all_get_there(capsys):
    from grokinterp.bench.grok import Summary, Trial, Variant, print_grok

    def summary(name, steps_99):
        s = Summary(Variant(name, {}))
        for seed, st in enumerate(steps_99):
            total = {0.95: 1.0, 0.99: None if st is None else st / 100}
            s.trials.append(Trial(name, seed, {0.95: 100, 0.99: st}, total, 10.0))
        return s

    base, ortho = summary("adamw", [300, 300, 300]), summary("ortho", [205, 395, None])
    print_grok({"preset": "p", "sets": [], "thresholds": [0.95, 0.99], "max_steps": 1000, "seeds": 3, "cores": 2,
                "threads": 1, "out": "x", "transfer_acc": 0.6, "weak_max_steps": 10, "grid": [base],
                "baseline": base, "singles": [ortho], "combos": []})
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "395 (205-395) [2 of 3 reached]" in rows["ortho"] and "reached]" not in rows["adamw*"]


def test_bench_grok_on_parity_races_the_transfer_family_and_writes_the_csv(tmp_path, capsys):
    """On a float-vector task (GrokTransfer's parity row) the weak model is the preset's MLP with one narrow
    hidden layer, and the family is GrokTransfer, its random-A ablation, each weak width, PCA and LDA; the csv has
    one row per trial."""
    import csv

    from grokinterp.bench import cli as bench

    sets = ["task.n_bits=12", "task.n_train=200", "task.n_test=100", "train.batch_size=0", "train.log_every=5",
            "accel.init_scale=3"]
    args = ["grok", "--preset", "parity", "--max-steps", "10", "--thresholds", "0.01", "--seeds", "2", "--lrs",
            "0.001", "--wds", "0.1", "--transfer-acc", "0.01", "--weak-widths", "1,2", "--out", str(tmp_path / "runs"),
            "--only", "groktransfer,groktransfer-random,groktransfer width 1,groktransfer width 2,pca,lda",
            "--csv", str(tmp_path / "t.csv"), "--task-name", "parity (12, 3)"]
    assert bench.main([*args, *[a for s in sets for a in ("--set", s)]]) == 0
    out = capsys.readouterr().out
    # the weak model (Xu et al.'s), as the table says
    assert "'model.n_layers': 2, 'model.d_mlp': 16, 'accel.init_scale': 1.0" in out
    rows = list(csv.DictReader(open(tmp_path / "t.csv")))
    assert list(rows[0]) == ["task", "method", "seed", "steps_to_99", "wall_s"]
    methods = {r["method"] for r in rows}
    assert {"groktransfer", "groktransfer-random", "groktransfer width 1", "groktransfer width 2", "pca",
            "lda"} <= methods and any(m.startswith("baseline (") for m in methods)
    assert all(r["task"] == "parity (12, 3)" for r in rows) and {r["seed"] for r in rows} == {"0", "1"}
    runs = tmp_path / "runs"
    assert load_run(runs / "groktransfer_width_1.seed0.weak").config.model.d_mlp == 1
    # the target starts at the init scale asked for (Xu et al.'s images: x100), the weak model at the standard one
    assert load_run(runs / "groktransfer.seed0").config.accel.init_scale == 3
    assert load_run(runs / "groktransfer.seed0.weak").config.accel.init_scale == 1
    assert load_run(runs / "pca.seed0").config.accel.transfer_from == "pca:16"
    assert load_run(runs / "groktransfer-random.seed1").config.accel.transfer_random


def test_bench_grok_trains_each_weak_model_once_and_weak_steps_transfers_after_a_fixed_time(tmp_path, capsys):
    """GrokTransfer and its random-A ablation share one weak model per seed: it trains once and its time is
    counted in both. With `--weak-steps N` the weak model trains exactly N steps, even far past the transfer
    accuracy, and the target takes its checkpoint at step N (Xu et al.'s FNN targets)."""
    from grokinterp.bench import cli as bench

    args = ["grok", "--preset", "mod113-small", "--max-steps", "10", "--thresholds", "0.01", "--seeds", "1",
            "--lrs", "1e-3", "--wds", "1", "--transfer-acc", "0.01", "--weak-steps", "30",
            "--only", "groktransfer,groktransfer-random", "--out", str(tmp_path), "--csv", str(tmp_path / "t.csv")]
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "for 30 steps, whatever its test accuracy" in out
    weak_dirs = sorted(p.name for p in tmp_path.glob("*.weak"))
    assert weak_dirs == ["groktransfer.seed0.weak"]  # one weak model, not one per variant
    weak = load_run(tmp_path / "groktransfer.seed0.weak")
    assert weak.config.train.steps == 30 and weak.steps[-1] == 30 and weak.metrics[-1]["step"] == 30
    assert weak.metrics[0]["test_acc"] >= 0 and any(r["test_acc"] >= 0.01 for r in weak.metrics[:-1])  # not stopped
    for name in ("groktransfer.seed0", "groktransfer-random.seed0"):
        target = load_run(tmp_path / name)
        assert target.config.accel.transfer_from == f"{tmp_path / 'groktransfer.seed0.weak'}@30"
        assert target.store.checkpoint_metadata(0)["transfer_step"] == "30"
    import csv

    rows = {r["method"]: r for r in csv.DictReader(open(tmp_path / "t.csv"))}
    # the weak run's time is in both methods' wall clock
    assert float(rows["groktransfer"]["wall_s"]) >= weak.metrics[-1]["wall_time"]
    assert float(rows["groktransfer-random"]["wall_s"]) >= weak.metrics[-1]["wall_time"]
    assert bench.main(["grok", "--weak-steps", "0"]) == 2
