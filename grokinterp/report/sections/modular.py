"""Report sections for modular-arithmetic runs: the figures of Nanda et al. 2023 from the run's own
checkpoints (training curves, Fourier norms of W_E and W_L, attention and neurons over (a, b), logits in
the 2-D Fourier basis, neuron clusters, progress measures) and the embedding circles."""

from __future__ import annotations

import torch

from grokinterp import progress
from grokinterp.analysis import fourier
from grokinterp.models import architecture_of
from grokinterp.report import figures
from grokinterp.report.html import Section
from grokinterp.report.sections.common import progress_table, run_phases, training_curves
from grokinterp.report.sections.registry import ReportContext, register

_HOOKS = frozenset({"blocks.0.attn.hook_pattern", "blocks.0.mlp.hook_post"})


register("modular")(training_curves)


@register("modular")
def progress_measures(ctx: ReportContext) -> list[Section]:
    table = progress_table(ctx)
    if table is None:
        return [Section("Progress measures", [], f"Not computed: {progress.why_not_measurable(ctx.run.config)}.")]
    key = ", ".join(map(str, table.key_freqs))
    text = (f"Key frequencies (from the final embedding): {key}. Restricted loss keeps only their trig terms; "
            "excluded loss removes them (Nanda et al. 2023, Figs. 6-7).")
    steps = table.steps
    _, stacked = ctx.run.stacked(steps.tolist())
    p = table.p
    W_E, _ = fourier.weights_from_state(stacked, p)
    norms = fourier.freq_norms(fourier.component_norms(W_E))
    return [Section("Progress measures", [
        figures.progress_measures(table.to_dict(), run_phases(ctx)),
        figures.key_frequency_lines(steps, norms, list(table.key_freqs)),
    ], text)]


@register("modular")
def per_step_figures(ctx: ReportContext) -> list[Section]:
    run, p = ctx.run, ctx.run.config.task.p
    if not architecture_of(run.config.model).tl_native:
        return embedding_sections(ctx)
    task = run.task()
    sections = []
    for step in ctx.steps:
        ctx.progress(f"figures at step {step}")
        model = run.model(step)
        with torch.no_grad():
            logits, cache = model.run_with_cache(task.tokens, names_filter=_HOOKS.__contains__)
        sd = run.state_dict(step)
        W_E, W_L = fourier.weights_from_state(sd, p)
        labels = fourier.fourier_labels(p)
        figs = [
            figures.fourier_norms(fourier.component_norms(W_E), labels, "Norm of W_E per Fourier component"),
            figures.fourier_norms(fourier.component_norms(W_L), labels,
                                  "Norm of W_L = W_U^T W_out per Fourier component"),
            figures.embedding_pca(W_E),
        ]
        text = f"Checkpoint at step {step}."
        dlog = dlog_view(run.config.task, sd["embed.weight"][:p])
        if dlog is not None:
            figs.append(dlog[0])
            text += " " + dlog[1]
        full_grid = task.tokens.shape[0] == p * p
        if full_grid:  # (a, b) grids need every pair (not the case for division, which drops b = 0)
            pattern = cache["blocks.0.attn.hook_pattern"][:, :, -1, 0]  # (pairs, head): '=' attends to a
            figs.append(figures.attention_heatmaps(pattern.T.reshape(-1, p, p)))
            if "blocks.0.mlp.hook_post" in cache:
                acts = cache["blocks.0.mlp.hook_post"][:, -1]  # (pairs, d_mlp)
                figs.append(figures.neuron_heatmaps(acts[:, :4].T.reshape(-1, p, p), [0, 1, 2, 3]))
                clusters = fourier.cluster_neurons(acts, p)
                figs.append(figures.variance_explained_histogram(clusters.frac))
                figs.append(figures.neuron_cluster_bars(clusters.sizes()))
            figs.append(figures.fourier_2d_heatmap(fourier.logit_fourier_norms(logits[:, -1, :p], p), labels))
        else:
            text += " Per-pair grids are skipped: this task does not use every (a, b) pair."
        sections.append(Section(f"The model at step {step}", figs, text))
    return sections


DLOG_OPS = frozenset({"mul", "div"})


def dlog_view(task, W_E: torch.Tensor):
    """For x*y and x/y mod a prime p: (figure, text) of the embedding of 1..p-1 in the discrete-log order,
    where x*y is addition and x/y subtraction of exponents mod p-1 (x = g^i, y = g^j: x/y = g^(i-j)), so a
    model that learnt the circuit of Nanda et al. in log space has a few key frequencies mod p-1. None for
    other operations."""
    if task.op not in DLOG_OPS:
        return None
    p = task.p
    W = fourier.to_dlog(W_E, p)
    keys = fourier.key_frequencies(W, p - 1, include_nyquist=True)
    fig = figures.fourier_norms(fourier.component_norms(W), fourier.fourier_labels(p - 1),
                                f"Norm of W_E per Fourier component of Z_{p - 1}, residues in discrete-log order "
                                f"(g = {fourier.primitive_root(p)})")
    circuit = "addition" if task.op == "mul" else "subtraction"
    return fig, (f"In the discrete-log order x = g^i the task is {circuit} of exponents mod {p - 1}; the embedding's "
                 f"key frequencies mod {p - 1} there: {', '.join(map(str, keys)) or 'none'} (the residue 0 "
                 f"is left out).")


def embedding_sections(ctx: ReportContext) -> list[Section]:
    """Models other than the one-layer TL transformer (a pair MLP, GrokTransfer's weak model; Power et al.'s
    transformer): the operand embedding in its principal components, its Fourier norms and, for x*y and x/y,
    its discrete-log view."""
    sections = []
    arch = architecture_of(ctx.run.config.model)
    for step in ctx.steps:
        W_E = ctx.run.state_dict(step)["embed.weight"][: ctx.run.config.task.n_answers]
        figs = [figures.embedding_pca(W_E, n_components=min(4, W_E.shape[1]))]
        structure = ctx.run.config.task.structure()
        if structure is not None and structure.kind == "cyclic":
            figs.append(figures.fourier_norms(fourier.component_norms(W_E), fourier.fourier_labels(W_E.shape[0]),
                                              "Norm of the embedding per Fourier component"))
        text = arch.embedding_note
        dlog = dlog_view(ctx.run.config.task, W_E)
        if dlog is not None:
            figs.append(dlog[0])
            text += " " + dlog[1]
        sections.append(Section(f"{arch.embedding_title} at step {step}", figs, text))
    return sections
