"""Report sections for permutation-group runs (S_n): training curves and progress measures with key irreps,
irrep fractions and logit similarities over training (Chughtai et al. 2023), and the output-layer coset
structure of Power et al. 2022 (t-SNE of the unembedding rows coloured by the best coset partition, and
the ranked partition table of `groups.coset_clustering`)."""

from __future__ import annotations

import numpy as np
import torch

from grokinterp import models
from grokinterp.analysis import groups, irreps
from grokinterp.models import architecture_of
from grokinterp.report import figures
from grokinterp.report.html import Section
from grokinterp.report.sections.common import progress_table, run_phases, training_curves
from grokinterp.report.sections.registry import ReportContext, register
from grokinterp.runs import Run

MAX_TRACE_STEPS = 60  # checkpoints sampled for the per-step irrep curves
TOP_PARTITIONS = 10

register("permutation")(training_curves)


def output_rows(params: dict[str, torch.Tensor], n_answers: int,
                neuron_logit_map: bool = True) -> dict[str, np.ndarray]:
    """The matrices with one row per group element: W_E (embedding), W_U (unembedding rows, the 'output
    layer' of Power et al.) and, with `neuron_logit_map` (the TL-native transformer), W_L = W_U^T W_out."""
    from grokinterp.analysis import fourier

    if not neuron_logit_map:  # e.g. Power et al.'s two post-LayerNorm layers: no single neuron-logit map
        mats = {"W_E": params["embed.weight"][:n_answers], "W_U": params["unembed.weight"][:n_answers]}
    else:
        W_E, W_L = fourier.weights_from_state(params, n_answers)
        mats = {"W_E": W_E, "W_U": params["unembed.weight"][:n_answers], "W_L": W_L}
    return {k: v.detach().cpu().numpy().astype(np.float64) for k, v in mats.items()}


def sampled_steps(run: Run, k: int = MAX_TRACE_STEPS) -> list[int]:
    steps = run.steps
    if len(steps) <= k:
        return list(steps)
    idx = np.unique(np.round(np.linspace(0, len(steps) - 1, k)).astype(int))
    return [steps[i] for i in idx]


def irrep_traces(run: Run, steps: list[int]) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """Per checkpoint: irrep fractions of W_E, W_U and W_L, and the logit similarity of every irrep."""
    t = run.config.task
    task = run.task()
    fracs: dict[str, dict[str, list[float]]] = {}
    sims: dict[str, list[float]] = {}
    with torch.no_grad():
        for step in steps:
            params = run.state_dict(step)
            for name, m in output_rows(params, t.n_answers).items():
                for irrep, f in groups.irrep_fractions(m, t.n).items():
                    fracs.setdefault(name, {}).setdefault(irrep, []).append(f)
            logits = models.fused_logits(params, run.config.model, task.tokens, (2,))[:, 0, :t.n_answers]
            for irrep, s in irreps.logit_similarity(logits, task.labels[:, 0], t.n).items():
                sims.setdefault(irrep, []).append(s)
    return ({k: {i: np.array(v) for i, v in d.items()} for k, d in fracs.items()},
            {i: np.array(v) for i, v in sims.items()})


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

