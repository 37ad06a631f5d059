"""Report sections for permutation-group runs (S_n): training curves and progress measures with key irreps,
irrep fractions and logit similarities over training (Chughtai et al. 2023), and the output-layer coset
structure of Power et al. 2022 (t-SNE of the unembedding rows coloured by the best coset partition, and
the ranked partition table of `groups.coset_clustering`)."""

from __future__ import annotations

import numpy as np

from grokinterp.analysis import groups
from grokinterp.models import architecture_of
from grokinterp.progress.curves import irrep_traces, output_rows, sampled_steps
from grokinterp.report import figures
from grokinterp.report.html import Section
from grokinterp.report.sections.common import progress_table, run_phases, training_curves
from grokinterp.report.sections.registry import ReportContext, register

TOP_PARTITIONS = 10

register("permutation")(training_curves)


@register("permutation")
def progress_measures(ctx: ReportContext) -> list[Section]:
    table = progress_table(ctx)
    if table is None:
        return []
    phases = run_phases(ctx)
    steps = sampled_steps(ctx.run)
    ctx.progress("irrep fractions over training")
    fracs, sims = irrep_traces(ctx.run, steps)
    key = ", ".join(table.key_freqs) or "none"
    text = (f"Key irreps (character cubes carrying the final logits, Chughtai et al. 2023): {key}. Restricted loss "
            "keeps only the logits' projection on the key irreps' functions of the answer; excluded loss removes "
            "it. Gini coefficients are over the per-dimension irrep fractions. Irrep fractions and logit "
            f"similarities are sampled at {len(steps)} checkpoints.")
    return [Section("Progress measures and irreps", [
        figures.progress_measures(table.to_dict(), phases),
        figures.irrep_similarity_lines(steps, sims, phases),
        figures.irrep_fraction_lines(steps, {k: fracs[k] for k in ("W_E", "W_U")}, phases),
    ], text)]


def _tsne(x: np.ndarray, seed: int = 0) -> np.ndarray:
    from sklearn.manifold import TSNE

    return TSNE(n_components=2, perplexity=min(30.0, (len(x) - 1) / 3), init="pca",
                random_state=seed).fit_transform(x)


def power_d5_line(ranked: list[groups.PartitionScore], rows: np.ndarray,
                  fractions: dict[str, float] | None = None) -> str:
    """Where Power et al.'s D5 and its conjugates rank among the partitions of the W_U rows of S5, and the share
    of those rows (`fractions`: their `groups.irrep_fractions`, computed if not given) in the irreps that
    functions constant on its cosets span (Ind_D5(1))."""
    d5 = groups.power_d5()
    ranks = groups.class_ranks(ranked, d5)
    induced = groups.induced_trivial(d5, 5)
    fractions = groups.irrep_fractions(rows, 5) if fractions is None else fractions
    share = sum(v for k, v in fractions.items() if k in induced)
    return (f"Power et al.'s D5 <(0 3)(1 4), (1 2)(3 4)> and its conjugates rank {ranks[0]} to {ranks[-1]} of "
            f"{len(ranked)} (best pseudo-F {ranked[ranks[0] - 1].pseudo_f:.3g}); functions constant on its cosets "
            f"span {' + '.join(induced)}, which hold {share:.1%} of W_U")


@register("permutation")
def output_layer_cosets(ctx: ReportContext) -> list[Section]:
    run, t = ctx.run, ctx.run.config.task
    arch = architecture_of(run.config.model)
    if not arch.unembedding:
        return []
    sections = []
    for step in ctx.steps:
        ctx.progress(f"coset clustering at step {step}")
        rows_by_matrix = output_rows(run.state_dict(step), t.n_answers, arch.tl_native)
        fr = {name: groups.irrep_fractions(m, t.n) for name, m in rows_by_matrix.items()}
        figs = []
        summary = []
        for name in [m for m in ("W_U", "W_L") if m in rows_by_matrix]:
            x = rows_by_matrix[name]
            ranked = groups.coset_clustering(x, t.n)
            best = ranked[0]
            hover = [groups.cycle_notation(g) for g in groups.elements(t.n)]
            if name == "W_U":
                figs.append(figures.coset_scatter(
                    _tsne(x), best.labels(), hover,
                    f"t-SNE of the unembedding rows (W_U) at step {step}, coloured by the {best.side} cosets of "
                    f"{best.subgroup.describe()}"))
            figs.append(figures.partition_table([r.as_dict() for r in ranked[:TOP_PARTITIONS]],
                                                f"Best coset partitions of the {name} rows (pseudo-F)"))
            summary.append(f"{name}: {best.side} cosets of {best.name} (order {best.order}), pseudo-F "
                           f"{best.pseudo_f:.3g}, p = {best.p_value:.3g}, k-means ARI {best.ari:.2f}")
            if name == "W_U" and t.n == 5:
                summary.append(power_d5_line(ranked, x, fr[name]))
        figs.append(figures.irrep_fraction_bars(fr, f"Fraction of each matrix in each irrep at step {step}"))
        text = (f"All {len(groups.coset_partitions(t.n))} non-trivial left and right coset partitions of S{t.n} "
                "scored against the rows by pseudo-F (Calinski-Harabasz), with p-values from 999 row shuffles "
                "adjusted for testing every partition (max-T). " + "; ".join(summary) + ".")
        sections.append(Section(f"Output-layer cosets at step {step}", figs, text))
    return sections

