"""Report section "Softmax collapse, curvature and learning coefficient", for every task family, beside the
test loss: softmax collapse (Prieto et al. 2025) from the training log, and on request (`grokinterp report
RUN --measures hessian,llc`; on mod113 about 20 s and 25 s a checkpoint) the Hessian's top eigenvalue and trace
(`progress.hessian`) and the local learning coefficient (`progress.llc`, Lau et al.) at up to
`MEASURE_CHECKPOINTS` checkpoints spread over the run."""

from __future__ import annotations

import time

import numpy as np

from grokinterp.report import figures
from grokinterp.report.html import Section
from grokinterp.report.sections.registry import ANY_FAMILY, ReportContext, register

MEASURE_CHECKPOINTS = 12
MEASURES = ("hessian", "llc")


def spread_steps(steps: list[int], k: int) -> list[int]:
    """Up to k of `steps` (sorted), those nearest to k evenly spaced steps from the first to the last."""
    if len(steps) <= k:
        return list(steps)
    arr = np.asarray(steps)
    picks = {int(arr[np.abs(arr - t).argmin()]) for t in np.linspace(arr[0], arr[-1], k)}
    return sorted(picks)


@register(ANY_FAMILY)
def stability_section(ctx: ReportContext) -> list[Section]:
    from grokinterp import progress

    rows = ctx.run.metrics
    series: dict[str, tuple[list[int], list[float]]] = {}
    notes = []
    if rows and "train_softmax_collapse" in rows[-1]:
        logged = [r for r in rows if "train_softmax_collapse" in r]
        series["softmax collapse (share of training examples)"] = (
            [r["step"] for r in logged], [r["train_softmax_collapse"] for r in logged])
        notes.append("Softmax collapse: the share of training examples whose float32 softmax is exactly one-hot, "
                     "so that their loss no longer moves the weights (Prieto et al. 2025).")
    steps = spread_steps(ctx.run.steps, MEASURE_CHECKPOINTS)
    if "hessian" in ctx.measures:
        ctx.progress("hessian")
        t = time.perf_counter()
        h = progress.hessian(ctx.run, steps, progress=False)
        hs = [int(s) for s in h.columns["step"]]
        series["Hessian top eigenvalue"] = (hs, list(h.columns["top_eigenvalue"]))
        series["Hessian trace (Hutchinson)"] = (hs, list(h.columns["trace"]))
        notes.append(f"Hessian of the training loss: power iteration and Hutchinson's estimator on Hessian-vector "
                     f"products, {(time.perf_counter() - t) / max(len(hs), 1):.1f} s a checkpoint.")
    if "llc" in ctx.measures:
        ctx.progress("llc")
        table = progress.llc(ctx.run, steps, progress=False)
        m = table.meta
        series["local learning coefficient"] = ([int(s) for s in table.columns["step"]], list(table.columns["llc"]))
        notes.append(f"LLC: localised SGLD (epsilon {m['epsilon']:g}, gamma {m['gamma']:g}, n beta {m['nbeta']:.0f}, "
                     f"{m['num_chains']} chains x {m['num_draws']} draws after {m['num_burnin']} burn-in, batches of "
                     f"{m['batch_size'] or m['n']}), {m['seconds_per_checkpoint']:.1f} s a checkpoint"
                     + (f"; diverged at {int(np.sum(table.columns['llc_diverged']))} checkpoint(s): lower epsilon"
                        if np.any(table.columns["llc_diverged"]) else "") + ".")
    if not series:
        return []
    fig = figures.measures_beside_test_loss(series, [r["step"] for r in rows], [r["test_loss"] for r in rows])
    if not set(MEASURES) & set(ctx.measures):
        notes.append("Hessian and LLC curves: `grokinterp report RUN --measures hessian,llc`.")
    return [Section("Softmax collapse, curvature and learning coefficient", [fig], " ".join(notes))]
