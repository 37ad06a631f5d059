"""Report sections on the weight norm, for every task family: for runs trained with `grokinterp.train.accel` settings
(Grokfast, Omnigrok's init scale or fixed weight norm), the weight-norm trajectory against the losses
(Omnigrok's LU picture: memorisation at large norm, generalisation once weight decay brings the norm down);
for runs with weight decay, the norm over steps with its fitted exp(-gamma t) beside lr * wd
(`grokinterp.analysis.normdecay`)."""

from __future__ import annotations

import numpy as np

from grokinterp.analysis.normdecay import fit_norm_decay
from grokinterp.config import AccelConfig
from grokinterp.report import figures
from grokinterp.report.html import Section
from grokinterp.report.sections.registry import ANY_FAMILY, ReportContext, register


@register(ANY_FAMILY)
def weight_norm_section(ctx: ReportContext) -> list[Section]:
    a = ctx.run.config.accel
    if a == AccelConfig():
        return []
    rows = ctx.run.metrics
    settings = ", ".join(f"{k}={v}" for k, v in vars(a).items() if v != getattr(AccelConfig(), k))
    fig = figures.weight_norm_trajectory([r["weight_norm"] for r in rows], [r["test_loss"] for r in rows],
                                         [r["step"] for r in rows], [r["train_loss"] for r in rows],
                                         loss_name=figures.LOSS_NAMES[ctx.run.config.train.loss])
    return [Section("Weight norm and loss", [fig], f"accel settings: {settings}. Each point is a logged step.")]


def _g(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


@register(ANY_FAMILY)
def norm_decay_section(ctx: ReportContext) -> list[Section]:
    tr, a = ctx.run.config.train, ctx.run.config.accel
    rows = ctx.run.metrics
    if tr.weight_decay == 0 or a.weight_norm > 0 or not rows:
        return []
    col = {k: np.array([r[k] for r in rows]) for k in ("step", "weight_norm", "train_acc", "test_acc")}
    fit = fit_norm_decay(col["step"], col["weight_norm"], col["train_acc"], col["test_acc"],
                         tr.lr * tr.weight_decay, test_acc_threshold=tr.grok_threshold)
    fig = figures.norm_decay(col["step"], col["weight_norm"], fit)
    if fit is None:
        text = "The run never fit its training set (train accuracy >= 0.99), so there is no decay window to fit."
    else:
        text = (f"Omnigrok (Liu et al. 2023): once the training set is fit, decoupled weight decay alone would "
                f"shrink the norm as exp(-gamma t) with gamma = -ln(1 - lr wd) = {fit.predicted:.3g} per step. "
                f"Fitted over steps {fit.start}-{fit.end} (train accuracy >= 0.99 until test accuracy "
                f">= {tr.grok_threshold:g}, shaded): gamma {fit.gamma:.3g}, {fit.ratio:.2f} x lr wd "
                f"(R^2 {fit.r2:.3f}). Fitted the same way, the decay rate before the window (memorisation) is "
                f"{_g(fit.gamma_before)}"
                + (f" and after it (generalised) {_g(fit.gamma_after)}" if fit.gamma_after is not None else
                   "; the run had not generalised by its last step")
                + ". Where the loss gradients are not small (memorising, or holding a generalised solution against "
                  "the decay) the law need not hold."
                + (" The embedding has its own lr or weight decay; lr wd above is the rest's."
                   if tr.embed_lr is not None or tr.embed_weight_decay is not None else ""))
    return [Section("Weight-norm decay", [fig], text)]
