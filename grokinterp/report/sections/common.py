"""What several families' sections share: the training curves, and the run's progress table and phases (each
computed once per report and kept in the context's cache)."""

from __future__ import annotations

from grokinterp import progress
from grokinterp.report import figures
from grokinterp.report.html import Section
from grokinterp.report.sections.registry import ReportContext


def progress_table(ctx: ReportContext):
    """The run's progress table (computed once per report), or None for tasks without a sum circuit."""
    if "progress" not in ctx.cache:
        if progress.why_not_measurable(ctx.run.config) is None:
            ctx.progress("progress measures over every checkpoint")
            ctx.cache["progress"] = progress.measures(ctx.run)
        else:
            ctx.cache["progress"] = None
    return ctx.cache["progress"]


def run_phases(ctx: ReportContext) -> dict[str, int | None] | None:
    table = progress_table(ctx)
    return None if table is None else progress.phases(table).as_dict()


def training_curves(ctx: ReportContext) -> list[Section]:
    rows = ctx.run.metrics
    # several answer positions: per-token accuracy (an example is rarely right at every position early on),
    # except for Power et al.'s equations, whose second token (<eos>) is trivial: their accuracy needs both
    power = getattr(ctx.run.config.task, "format", "pair") == "power"
    acc = "_token_acc" if rows and "test_token_acc" in rows[0] and not power else "_acc"
    cols = {k: [r[k] for r in rows] for k in ("step", "train_loss", "test_loss", "train" + acc, "test" + acc)}
    fig = figures.loss_curves(cols["step"], cols["train_loss"], cols["test_loss"], cols["train" + acc],
                              cols["test" + acc], run_phases(ctx), figures.LOSS_NAMES[ctx.run.config.train.loss])
    what = "accuracy per scored token" if acc == "_token_acc" else "accuracy"
    return [Section("Training curves", [fig], f"Loss (log scale) and {what}; dashed lines mark the phases "
                    "detected by grokinterp.progress.phases (Nanda et al. 2023, Fig. 2).")]
