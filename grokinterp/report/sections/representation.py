"""Report sections for Liu et al.'s toy addition runs (the representation over training: RQI, effective
loss, PCA dimension; the final embedding; the run's regime) and for Omnigrok's image runs (training curves
and regime; the weight-norm section comes from `report.sections.accel`)."""

from __future__ import annotations

from grokinterp import progress
from grokinterp.analysis.regimes import regime_of
from grokinterp.report import figures
from grokinterp.report.html import Section
from grokinterp.report.sections.common import training_curves
from grokinterp.report.sections.registry import DEFAULT_SECTIONS, ReportContext, register

for _family in ("addition", "images", DEFAULT_SECTIONS):
    register(_family)(training_curves)


@register("addition")
@register("images")
@register(DEFAULT_SECTIONS)
def regime_section(ctx: ReportContext) -> list[Section]:
    rows = ctx.run.metrics
    if not rows:
        return []
    r = regime_of([x["train_acc"] for x in rows], [x["test_acc"] for x in rows], [x["step"] for x in rows])
    return [Section("Regime", [], f"{r.regime}: train accuracy reached 90% at step {r.train_step}, test accuracy at "
                    f"step {r.test_step} (Liu et al. 2022, Table 1: comprehension when the gap is under 1,000 "
                    "steps, grokking when it is longer, memorization when test accuracy never gets there, "
                    "confusion when train accuracy does not).")]


@register("addition")
def representation_section(ctx: ReportContext) -> list[Section]:
    ctx.progress("representation")
    table = progress.representation_table(ctx.run, progress=False)
    rows = ctx.run.metrics
    fig = figures.representation_lines(table.steps, table.rqi, table.effective_loss, table.effective_dim,
                                       [r["step"] for r in rows], [r["test_acc"] for r in rows])
    E, _ = progress.symbol_embedding(ctx.run, ctx.steps[-1])
    text = (f"RQI: share of the parallelograms i + j = m + l the embedding closes (tolerance 0.01 on standardised "
            f"embeddings); first above 0.95 at step {table.first_step('rqi', above=0.95)}. Effective loss on the "
            "training parallelograms; PCA effective dimension e^S of the embedding (docs/analysis/representation.md).")
    figs = [fig]
    if E.shape[1] >= 2:
        figs.append(figures.embedding_pca(E, title=f"Embedding at step {ctx.steps[-1]}"))
    return [Section("Representation", figs, text)]
