"""`python -m grokinterp.bench grok`: a fair race to grok. Every variant trains the same preset (same task, same
split, same thresholds) from the same init seeds, one run after another in this process; the table gives the
steps and wall time to 95% and to 99% test accuracy, median and range over the seeds.

The plan, in order:

1. **Tuned baselines**: plain AdamW (no ⊥Grad, no Grokfast, cross-entropy) over a grid of learning rates
   (`--lrs`, default the preset's lr and 3x it) and weight decays (`--wds`, default 1, 3, 8), on the first seed.
   The fastest to the top threshold is *the* baseline and runs on every seed (`baseline*` in the table).
2. **Variants**, each the tuned baseline's lr and weight decay plus one method:
   `grokfast-ema` (alpha 0.98, lamb 2), `grokfast-ma` (window 100, lamb 5), `stablemax` (`train.loss=stablemax`),
   `ortho-adamw` (Prieto et al.'s ⊥AdamW at weight decay 0, as in their paper), `ortho-adamw+wd` (at the tuned
   weight decay), `ortho-adamw lr X` (weight decay 0 at the preset's own lr X, when the tuned lr differs: the
   methods are not lr-tuned themselves, and ⊥AdamW's paper setting is the `prieto-mlp` preset's), `muon`
   (`train.optimizer=muon`), and on presets with an input embedding `groktransfer` (the weak model: on token
   tasks a pair MLP, 4-d embedding, width 64, lr 3e-3; on float-vector tasks Xu et al.'s three-layer
   FNN of width 16, the preset's MLP narrowed; the preset's weight decay, trained until `--transfer-acc` test
   accuracy, or with `--weak-steps N` for exactly N steps whatever its accuracy (Xu et al.'s FNN targets); the
   target's embedding starts as A B; **the weak run's time and steps are counted** in every trial that uses
   it, although each distinct weak model (settings and seed) trains once; its own budget is
   `--weak-max-steps`), `groktransfer+grokfast`, the random-A ablation `groktransfer-random` (A random
   with the weak embedding's shape and scale; the weak run's time counted too), `groktransfer width N` for each
   of `--weak-widths` (the weak model's embedding width), and on float-vector tasks `pca` and `lda` (a
   classical embedding of the training inputs in place of the weak model's: `accel.transfer_from=pca:K`, `lda`,
   K the weak width).
3. **The best combination**: the overrides of the two fastest variants merged (the fastest wins a clash), the
   second being the fastest whose method changes none of the first's settings (lr and weight decay aside:
   so not ⊥AdamW at another lr, not Grokfast twice).

With `--tune-methods` every method gets the baselines' grid too: the method's own settings on top of each
(lr, weight decay) of the grid that it does not pin itself (⊥AdamW pins weight decay 0, so it is tuned over the
lr alone; `ortho-adamw+wd` over both), the fastest on seed 0 runs on every seed and stands for the method (its
name says its lr and weight decay); the other grid points are listed as `grid` rows. The `ortho-adamw lr X`
variant is then left out: the lr grid covers it.

A variant whose seed 0 does not reach the top threshold within `--max-steps` is not rerun on the other
seeds (it would only cost the step budget again); the table says so (`n` = seeds run). A median counts
unreached seeds as slower than any reached one; when most seeds did not reach a threshold its median is
"not reached".

Times are the runs' own training clocks (evaluation and checkpoint writes included, process start-up
excluded) at the first logged step at or above a threshold. Runs go to `--out` (default: a temporary
directory) and can be kept for the report. The last line is `best/baseline wall-time speedup: N.NNx`: the
fastest variant's median total time to the top threshold against the tuned baseline's; when the baseline
does not reach it, the ratio is a lower bound (`>=`, against the baseline's whole budget).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from grokinterp.models import architecture_of
from grokinterp.presets import get_preset
from grokinterp.runs.run import load_run
from grokinterp.tasks import family_of
from grokinterp.train import train

# on token tasks; one hidden layer whatever the target's depth (Xu et al.'s weak "two-layer FNN")
WEAK = {"model.arch": "mlp", "model.d_model": 4, "model.d_mlp": 64, "model.n_layers": 1, "train.lr": 3e-3}
# the weak model's embedding width by task kind: a pair MLP's 4-d embedding on tokens; on float vectors Xu
# et al.'s weak model for sparse bits, a three-layer FNN of width 16 (a two-layer one could not generalise,
# their App. B)
WEAK_WIDTH = {"vectors": 16}


def weak_model(kind: str, width: int | None = None) -> dict:
    """The weak model's overrides: a pair MLP with a `width`-d embedding (default 4) on token tasks; on
    float-vector tasks the preset's own MLP with two hidden layers of `width` neurons (default 16), whose first
    layer is the embedding. Either starts at the standard initialisation (`accel.init_scale` 1), whatever the
    target's: a weak model is there to generalise early (the target of Xu et al.'s image setting starts x100)."""
    width = width or WEAK_WIDTH.get(kind, WEAK["model.d_model"])
    if kind == "vectors":
        return {"model.n_layers": 2, "model.d_mlp": width, "accel.init_scale": 1.0}
    return {**WEAK, "model.d_model": width, "accel.init_scale": 1.0}
PLAIN = {"accel.orthogonal_grad": False, "accel.grokfast": "none", "train.optimizer": "adamw", "train.loss": "ce"}


@dataclass(frozen=True)
class Variant:
    name: str
    overrides: dict
    weak: dict | None = None  # the weak run's overrides (GrokTransfer)
    kind: str = "variant"  # baseline | variant | combination


@dataclass
class Trial:
    """One seed of one variant: per threshold, the step and total wall time (weak run included) or None."""

    variant: str
    seed: int
    steps: dict[float, int | None]
    total_s: dict[float, float | None]
    budget_s: float  # the whole run's time (weak run included): a lower bound when a threshold is not reached
    weak_s: float = 0.0
    weak_steps: int | None = None
    final_acc: float = 0.0  # test accuracy at the run's last logged step


@dataclass
class Summary:
    variant: Variant
    trials: list[Trial] = field(default_factory=list)

    def median(self, threshold: float, what: str = "total_s") -> float | None:
        """Median over the seeds run, unreached counted as +inf; None when the median is unreached."""
        vals = sorted(float("inf") if getattr(t, what)[threshold] is None else getattr(t, what)[threshold]
                      for t in self.trials)
        m = statistics.median(vals) if vals else float("inf")
        return None if m == float("inf") else float(m)

    def span(self, threshold: float, what: str = "total_s") -> tuple[int | float, int | float] | None:
        vals = [getattr(t, what)[threshold] for t in self.trials if getattr(t, what)[threshold] is not None]
        return (min(vals), max(vals)) if vals else None

    def reached(self, threshold: float) -> int:
        return sum(t.steps[threshold] is not None for t in self.trials)


def baseline_grid(lrs: list[float], wds: list[float]) -> list[Variant]:
    return [Variant(f"adamw lr {lr:g} wd {wd:g}", {**PLAIN, "train.lr": lr, "train.weight_decay": wd},
                    kind="baseline") for lr in lrs for wd in wds]


def method_variants(base: dict, with_embedding: bool, grokfast: dict, transfer_acc: float,
                    preset_lr: float | None = None, kind: str = "pairs",
                    weak_widths: tuple[int, ...] = ()) -> list[Variant]:
    """The single methods on top of the tuned baseline's overrides `base`; ⊥AdamW also at `preset_lr` (its
    paper's setting on Prieto et al.'s preset) when the tuned lr differs. `kind`: the task kind (the weak model
    and the classical embeddings depend on it); `weak_widths`: GrokTransfer again at each weak width."""
    ema = {"accel.grokfast": "ema", "accel.alpha": grokfast.get("alpha", 0.98), "accel.lamb": grokfast.get("lamb", 2.0)}
    out = [
        Variant("grokfast-ema", {**base, **ema}),
        Variant("grokfast-ma", {**base, "accel.grokfast": "ma", "accel.window": 100, "accel.lamb": 5.0}),
        Variant("stablemax", {**base, "train.loss": "stablemax"}),
        Variant("ortho-adamw", {**base, "accel.orthogonal_grad": True, "train.weight_decay": 0.0}),
        Variant("ortho-adamw+wd", {**base, "accel.orthogonal_grad": True}),
        *([Variant(f"ortho-adamw lr {preset_lr:g}", {**base, "accel.orthogonal_grad": True, "train.weight_decay": 0.0,
                                                     "train.lr": preset_lr})]
          if preset_lr is not None and preset_lr != base["train.lr"] else []),
        Variant("muon", {**base, "train.optimizer": "muon"}),
    ]
    if with_embedding:
        tr = {"accel.transfer_mode": "factored", "accel.transfer_acc": transfer_acc}

        def weak(width: int | None = None) -> dict:  # the preset's weight decay, as documented
            return {**PLAIN, **weak_model(kind, width), "train.grok_threshold": transfer_acc}

        out += [Variant("groktransfer", {**base, **tr}, weak()),
                Variant("groktransfer+grokfast", {**base, **tr, **ema}, weak()),
                Variant("groktransfer-random", {**base, **tr, "accel.transfer_random": True}, weak())]
        out += [Variant(f"groktransfer width {w}", {**base, **tr}, weak(w)) for w in weak_widths]
        if kind == "vectors":
            out += [Variant("pca", {**base, "accel.transfer_from": f"pca:{WEAK_WIDTH['vectors']}"}),
                    Variant("lda", {**base, "accel.transfer_from": "lda"})]
    return out


def method_grid(v: Variant, base: dict, lrs: list[float], wds: list[float]) -> list[Variant]:
    """`v`'s method (its departure from `base`) at each grid point (lr, wd) it does not pin itself, each once."""
    method = method_of(v, base)
    out: dict[tuple[float, float], Variant] = {}
    for lr in lrs:
        for wd in wds:
            o = {**base, "train.lr": lr, "train.weight_decay": wd, **method}
            point = (o["train.lr"], o["train.weight_decay"])
            out.setdefault(point, Variant(f"{v.name} lr {point[0]:g} wd {point[1]:g}", o, v.weak, kind="grid"))
    return list(out.values())


def method_of(v: Variant, base: dict) -> dict:
    """The overrides with which `v` departs from the tuned baseline's `base`."""
    return {k: x for k, x in v.overrides.items() if base.get(k) != x}


def combine(first: Variant, second: Variant, base: dict) -> Variant:
    """The two methods together on the tuned baseline `base`; `first`'s win a clash (e.g. ⊥AdamW's weight
    decay 0)."""
    return Variant(f"{first.name} + {second.name}", {**base, **method_of(second, base), **method_of(first, base)},
                   first.weak or second.weak, kind="combination")


def _train_or_stop(cfg, path: Path, progress, stop_when_grokked: bool = True) -> None:
    """Train one run; Ctrl-C / SIGTERM (train() checkpoints and returns) stops the whole benchmark instead of
    timing an interrupted run as if it had not reached the threshold."""
    if train(cfg, path, stop_when_grokked=stop_when_grokked, progress=progress).interrupted:
        raise KeyboardInterrupt


def times_to(run_path: Path, thresholds: list[float]) -> tuple[dict, dict, float, float]:
    """Per threshold the first logged (step, wall time) at or above it (None, None if never), the run's time
    and its last logged test accuracy."""
    rows = load_run(run_path).metrics
    steps, walls = {}, {}
    for th in thresholds:
        hit = next((r for r in rows if r["test_acc"] >= th), None)
        steps[th], walls[th] = (hit["step"], hit["wall_time"]) if hit else (None, None)
    return steps, walls, rows[-1]["wall_time"], rows[-1]["test_acc"]


@dataclass(frozen=True)
class WeakRun:
    """A trained weak model: its directory, what the target transfers (`accel.transfer_from`; "" when it never
    reached the transfer accuracy), its steps to that point (None: never) and the time counted for it."""

    path: Path
    transfer_from: str
    steps: int | None
    seconds: float


def weak_run(base, weak: dict, seed: int, path: Path, progress, weak_max_steps: int,
             weak_steps: int | None = None) -> WeakRun:
    """Train a weak model into `path`: until its `train.grok_threshold` (the transfer accuracy; at most
    `weak_max_steps`), the target taking its first checkpoint there; or, with `weak_steps`, exactly that many steps
    whatever its accuracy (Xu et al.'s FNN targets: a weak model trained 10^4 epochs), the target taking the last
    checkpoint (`RUN@STEP`). The time counted is the weak run's to the checkpoint transferred."""
    shutil.rmtree(path, ignore_errors=True)
    wcfg = base.with_overrides({**weak, "model.seed": seed, "train.steps": weak_steps or weak_max_steps})
    _train_or_stop(wcfg, path, progress, stop_when_grokked=weak_steps is None)
    if weak_steps is not None:
        _, _, seconds, _ = times_to(path, [])
        return WeakRun(path, f"{path}@{weak_steps}", weak_steps, seconds)
    th = weak["train.grok_threshold"]
    steps, walls, whole, _ = times_to(path, [th])
    if steps[th] is None:
        return WeakRun(path, "", None, whole)
    return WeakRun(path, str(path), steps[th], walls[th])


def run_trial(preset: str, sets: list[str], v: Variant, seed: int, root: Path, max_steps: int,
              thresholds: list[float], progress, weak_max_steps: int = 10_000, weak_steps: int | None = None,
              weak_runs: dict | None = None) -> Trial:
    """One seed of one variant. A variant with a weak model trains it first and counts its time; `weak_runs`
    (a dict kept across trials) trains each distinct weak model (its settings and seed) once and reuses it,
    still counting its time in every trial that uses it."""
    base = get_preset(preset).with_overrides(sets)
    slug = f"{v.name.replace(' ', '_').replace('+', 'and')}.seed{seed}"
    weak, extra = None, {}
    if v.weak is not None:
        key = repr((sorted(v.weak.items()), seed, weak_max_steps, weak_steps))
        weak = None if weak_runs is None else weak_runs.get(key)
        if weak is None:
            weak = weak_run(base, v.weak, seed, root / f"{slug}.weak", progress, weak_max_steps, weak_steps)
            if weak_runs is not None:
                weak_runs[key] = weak
        if not weak.transfer_from:
            none = {th: None for th in thresholds}
            return Trial(v.name, seed, dict(none), dict(none), weak.seconds, weak.seconds, None)
        extra = {"accel.transfer_from": weak.transfer_from}
    weak_s = weak.seconds if weak is not None else 0.0
    path = root / slug
    shutil.rmtree(path, ignore_errors=True)
    cfg = base.with_overrides({**v.overrides, **extra, "model.seed": seed, "train.steps": max_steps,
                               "train.grok_threshold": max(thresholds)})
    _train_or_stop(cfg, path, progress)
    steps, walls, run_s, final_acc = times_to(path, thresholds)
    total = {th: None if w is None else w + weak_s for th, w in walls.items()}
    return Trial(v.name, seed, steps, total, run_s + weak_s, weak_s, weak.steps if weak is not None else None,
                 final_acc)


def bench_grok(preset: str = "mod113", max_steps: int = 10_000, thresholds: tuple[float, ...] = (0.95, 0.99),
               seeds: int = 3, lrs: list[float] | None = None, wds: tuple[float, ...] = (1.0, 3.0, 8.0),
               sets: list[str] | None = None, only: list[str] | None = None, grokfast: dict | None = None,
               transfer_acc: float = 0.6, out: str | None = None, progress: bool | None = None,
               log=print, weak_max_steps: int = 10_000, tune_methods: bool = False,
               weak_widths: tuple[int, ...] = (), weak_steps: int | None = None) -> dict:
    """Run the plan of the module docstring; `only` restricts the methods (by name; the baselines always run);
    `tune_methods` gives every method the baselines' lr x weight-decay grid; `weak_widths` adds GrokTransfer at
    those weak-model widths; `weak_steps` trains every weak model that many steps, whatever its accuracy."""
    sets = list(sets or [])
    cfg = get_preset(preset).with_overrides(sets)
    lrs = lrs or [cfg.train.lr, 3 * cfg.train.lr]
    thresholds = sorted(thresholds)
    top = thresholds[-1]
    grokfast = {"alpha": 0.98, "lamb": 2.0} if grokfast is None else grokfast
    root = Path(out) if out else Path(tempfile.mkdtemp(prefix="grokinterp-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    weak_runs: dict = {}  # each distinct weak model trains once

    def run(v: Variant, seed_list) -> Summary:
        s = Summary(v)
        for seed in seed_list:
            t = run_trial(preset, sets, v, seed, root, max_steps, thresholds, progress, weak_max_steps, weak_steps,
                          weak_runs)
            s.trials.append(t)
            log(f"  {v.name} seed {seed}: " + ", ".join(
                f"{th:g} at {t.steps[th]} ({t.total_s[th]:.1f} s)" if t.steps[th] is not None else f"{th:g} not reached"
                for th in thresholds))
            if t.steps[top] is None and seed == 0:
                break  # seed 0 failed: not rerun, it would only spend the budget again
        return s

    def key(s: Summary) -> float:
        m = s.median(top)
        return float("inf") if m is None else m

    seed_list = list(range(seeds))

    def tuned(variants: list[Variant]) -> tuple[Summary, list[Summary]]:
        """The fastest of `variants` on seed 0 (none reached: the one that got furthest), then run on every
        seed; and all of them, in order."""
        grid = [run(v, seed_list[:1]) for v in variants]
        best = min(grid, key=lambda s: (key(s), -s.trials[0].final_acc))
        if best.trials[0].steps[top] is not None:
            best.trials += run(best.variant, seed_list[1:]).trials
        return best, grid

    best, grid = tuned(baseline_grid(lrs, list(wds)))
    kind = family_of(cfg.task).kind
    methods = [v for v in method_variants(best.variant.overrides, architecture_of(cfg.model).embedding is not None,
                                          grokfast, transfer_acc, None if tune_methods else cfg.train.lr, kind,
                                          tuple(weak_widths))
               if not only or v.name.split(" lr ")[0] in only]
    singles, tried = [], []
    for v in methods:
        if tune_methods:
            chosen, points = tuned(method_grid(v, best.variant.overrides, lrs, list(wds)))
            singles.append(Summary(replace(chosen.variant, kind="variant"), chosen.trials))  # it stands for the method
            tried += [s for s in points if s is not chosen]
        else:
            singles.append(run(v, seed_list))
    ranked = sorted((s for s in singles if key(s) < float("inf")), key=key)
    base = best.variant.overrides

    def changed(v: Variant) -> set[str]:
        keys = set(method_of(v, base)) - {"train.lr", "train.weight_decay"}
        return keys | ({"weak"} if v.weak else set())

    # the next fastest whose method touches other settings (not ⊥AdamW at another lr, not Grokfast twice)
    second = next((s for s in ranked[1:] if not changed(s.variant) & changed(ranked[0].variant)), None)
    combos = [run(combine(ranked[0].variant, second.variant, base), seed_list)] if second is not None else []
    return {"preset": preset, "sets": sets, "thresholds": thresholds, "max_steps": max_steps, "seeds": seeds,
            "out": str(root), "cores": os.cpu_count(), "threads": torch.get_num_threads(), "grokfast": grokfast,
            "transfer_acc": transfer_acc, "weak_max_steps": weak_max_steps, "weak_steps": weak_steps,
            "weak": weak_model(kind),
            "grid": grid, "baseline": best,
            "singles": singles, "combos": combos, "method_grid": tried, "tune_methods": tune_methods}


def _fmt_steps(s: Summary, th: float) -> str:
    m, span, k, n = s.median(th, "steps"), s.span(th, "steps"), s.reached(th), len(s.trials)
    part = f" [{k} of {n} reached]" if 0 < k < n else ""  # a median over seeds of which some never got there
    if m is None:
        return "not reached" + part
    return f"{m:,.0f}" + (f" ({span[0]:,}-{span[1]:,})" if span and span[0] != span[1] else "") + part


def _fmt_time(s: Summary, th: float) -> str:
    m, span = s.median(th), s.span(th)
    if m is None:
        return "-"
    return f"{m:.1f}" + (f" ({span[0]:.1f}-{span[1]:.1f})" if span and span[0] != span[1] else "")


def print_grok(r: dict) -> None:
    lo, top = r["thresholds"][0], r["thresholds"][-1]
    acc = f"{lo:g} and {top:g}" if lo != top else f"{top:g}"
    print(f"preset {r['preset']} {' '.join(r['sets'])}".rstrip() + f"; test accuracy {acc}; at most "
          f"{r['max_steps']} steps; seeds 0-{r['seeds'] - 1}; {r['cores']} CPU cores, {r['threads']} torch threads; "
          f"runs in {r['out']}")
    until = f"for {r['weak_steps']} steps, whatever its test accuracy" if r.get("weak_steps") else \
        f"until test accuracy {r['transfer_acc']} (at most {r['weak_max_steps']} steps)"
    print(f"weak model (GrokTransfer): {r.get('weak', WEAK)} {until}, its time counted (each distinct weak model "
          f"trains once per seed)")
    base: Summary = r["baseline"]
    rows = [(s, "grid") for s in r["grid"] + r.get("method_grid", []) if s is not base] + [(base, "baseline")] + \
           [(s, "") for s in r["singles"]] + [(s, "combination") for s in r["combos"]]
    width = max([34] + [len(s.variant.name) + 1 for s, _ in rows])
    head = (f"{'variant':<{width}} {'n':>2} {'steps to ' + format(lo, 'g'):>30} {'s to ' + format(lo, 'g'):>18} "
            f"{'steps to ' + format(top, 'g'):>30} {'s to ' + format(top, 'g'):>18} {'vs baseline':>12}")
    print(head)
    b = base.median(top)
    b_bound = b if b is not None else statistics.median(t.budget_s for t in base.trials)
    for s, tag in rows:
        name = s.variant.name + ("*" if tag == "baseline" else "")
        m = s.median(top)
        ratio = "" if m is None or tag == "grid" else f"{'>=' if b is None else ''}{b_bound / m:.2f}x"
        print(f"{name:<{width}} {len(s.trials):>2} {_fmt_steps(s, lo):>30} {_fmt_time(s, lo):>18} "
              f"{_fmt_steps(s, top):>30} {_fmt_time(s, top):>18} {ratio:>12}")
    print("* the tuned baseline: the grid's fastest on seed 0, then run on every seed" +
          ("; every method tuned over the same grid the same way (its other grid points: the rows after the "
           "baseline's grid)" if r.get("tune_methods") else ""))
    reached = [s for s in r["singles"] + r["combos"] if s.median(top) is not None]
    if not reached:
        print("best/baseline wall-time speedup: n/a (no variant reached the threshold)")
        return
    best = min(reached, key=lambda s: s.median(top))
    print(f"best: {best.variant.name}")
    print(f"best/baseline wall-time speedup: {'>=' if b is None else ''}{b_bound / best.median(top):.2f}x")


CSV_COLUMNS = ("task", "method", "seed", "steps_to_99", "wall_s")


def trial_rows(r: dict, task: str | None = None) -> list[dict]:
    """One row per trial of a `bench_grok` result (tuned baseline, its grid, the methods, the combination) at
    its top threshold: `task` (default: the preset), `method`, `seed`, `steps_to_99` (None: not reached within
    the budget) and `wall_s` (to the threshold, the weak run included; the whole run's time when not reached)."""
    top = r["thresholds"][-1]
    base: Summary = r["baseline"]
    groups = [(base, "baseline")] + [(s, "") for s in r["singles"] + r["combos"]] + \
             [(s, "grid") for s in r["grid"] + r.get("method_grid", []) if s is not base]
    out = []
    for s, tag in groups:
        name = f"baseline ({s.variant.name})" if tag == "baseline" else \
            (f"grid: {s.variant.name}" if tag == "grid" else s.variant.name)
        for t in s.trials:
            out.append({"task": task or r["preset"], "method": name, "seed": t.seed, "steps_to_99": t.steps[top],
                        "wall_s": round(t.total_s[top] if t.total_s[top] is not None else t.budget_s, 3)})
    return out
