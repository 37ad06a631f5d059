"""Report section for runs trained with `grokinterp.accel` settings (Grokfast, Omnigrok's init scale or
fixed weight norm), for every task family: the weight-norm trajectory against the losses (Omnigrok's
LU picture: memorisation at large norm, generalisation once weight decay brings the norm down)."""

from __future__ import annotations

from grokinterp.config import AccelConfig
from grokinterp.report import figures
from grokinterp.report.html import Section
from grokinterp.report.sections import ANY_FAMILY, ReportContext, register


@register(ANY_FAMILY)
def weight_norm_section(ctx: ReportContext) -> list[Section]:
    a = ctx.run.config.accel
    if a == AccelConfig():
        return []
    rows = ctx.run.metrics
    settings = ", ".join(f"{k}={v}" for k, v in vars(a).items() if v != getattr(AccelConfig(), k))
    fig = figures.weight_norm_trajectory([r["weight_norm"] for r in rows], [r["test_loss"] for r in rows],
                                         [r["step"] for r in rows], [r["train_loss"] for r in rows])
    return [Section("Weight norm and loss", [fig], f"accel settings: {settings}. Each point is a logged step.")]
